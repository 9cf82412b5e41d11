/// Accumulates the nodes of a model description: each node reads the last one added unless
/// told otherwise. Presets use it to write graphs the way the PyTorch modules read.
struct GraphBuilder {
    private(set) var nodes: [LayerSpec] = []
    /// The name of the last node added (`input` before any).
    private(set) var last = GraphOrder.inputName

    /// Adds `spec`, reading `inputs` (default: the last node); returns its name.
    @discardableResult
    mutating func add(_ spec: LayerSpec, inputs: [String]? = nil) -> String {
        var s = spec
        let wanted = inputs ?? [last]
        s.sources = wanted == [last] ? nil : wanted
        nodes.append(s)
        last = s.name
        return s.name
    }

    /// A convolution without bias followed by batch normalisation (and optionally an activation).
    mutating func convNorm(_ conv: String, _ norm: String, units: Int, kernel: Int, stride: Int = 1, padding: Int? = nil,
                           groups: Int? = nil, activation: (LayerKind, String)? = nil, inputs: [String]? = nil) {
        add(LayerSpec(.conv2d, name: conv, units: units, kernel: kernel, stride: stride, padding: padding ?? (kernel - 1) / 2,
                      bias: false, groups: groups), inputs: inputs)
        add(LayerSpec(.batchnorm2d, name: norm))
        if let (kind, name) = activation { add(LayerSpec(kind, name: name)) }
    }
}
