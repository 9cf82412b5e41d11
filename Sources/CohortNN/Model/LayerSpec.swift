/// The kinds of layer (graph node operation) a model description can name.
public enum LayerKind: String, Codable, Sendable, CaseIterable {
    // Version 1 kinds.
    case dense, conv2d, maxpool2d, avgpool2d, globalavgpool
    case batchnorm1d, batchnorm2d, dropout
    case relu, leakyrelu, gelu, flatten, gradientreversal
    // Version 2: graph wiring and shape operations.
    case add, concat, reshape, identity
    // Version 2: normalisation, token-wise linear, attention.
    case layernorm, groupnorm, linear, attention
    // Version 2: activations.
    case relu6, silu, sigmoid, tanh, hardswish, softmax
    // Version 2: pooling, ViT pieces, regularisation.
    case adaptiveavgpool, clstoken, posembed, selecttoken, droppath

    /// Kinds that read more than one input node.
    public var isMerge: Bool { self == .add || self == .concat }

    /// Kinds a version 1 description may use.
    public var isVersion1: Bool {
        switch self {
        case .dense, .conv2d, .maxpool2d, .avgpool2d, .globalavgpool, .batchnorm1d, .batchnorm2d, .dropout,
             .relu, .leakyrelu, .gelu, .flatten, .gradientreversal: return true
        default: return false
        }
    }
}

/// A serialisable description of one layer (one node of the model graph): enough to rebuild
/// it from a file alone.
///
/// Only the fields a kind uses are set; input sizes are inferred from the input node's output
/// shape (and checked when given). A node reads the node listed before it unless `sources`
/// names its inputs (JSON key `inputs` as an array of node names; `input` is the model input).
public struct LayerSpec: Codable, Equatable, Sendable {
    public var kind: LayerKind
    /// Dotted name used as the prefix of its parameters, e.g. `features.0`.
    public var name: String
    /// The nodes this node reads, by name (`input` is the model input); nil: the previous node.
    public var sources: [String]?
    /// Dense / linear: output features. Conv2D: output channels.
    public var units: Int?
    /// Dense: input features; Conv2D: input channels (inferred when nil; checked when set).
    public var inputs: Int?
    /// Conv2D / pooling window size (square).
    public var kernel: Int?
    public var stride: Int?
    /// Symmetric zero padding on every side.
    public var padding: Int?
    /// Asymmetric zero padding `[top, bottom, left, right]` (overrides `padding`).
    public var pads: [Int]?
    /// Conv2D: channel groups (channels for depthwise). GroupNorm: number of groups.
    public var groups: Int?
    /// Conv2D: kernel dilation (default 1).
    public var dilation: Int?
    /// Dense / Conv2D / linear: whether there is a bias (default true).
    public var bias: Bool?
    /// Dropout / drop-path probability.
    public var rate: Float?
    /// LeakyReLU negative slope.
    public var slope: Float?
    /// GradientReversal scale λ.
    public var lambda: Float?
    /// BatchNorm running-statistics momentum (default 0.1); normalisation epsilon
    /// (BatchNorm/GroupNorm default 1e-5, LayerNorm 1e-5).
    public var momentum: Float?
    public var epsilon: Float?
    /// Attention: number of heads.
    public var heads: Int?
    /// Attention: parameter layout, `timm` (`qkv`, `proj`) or `torch` (`in_proj_weight`, `out_proj`).
    public var layout: String?
    /// Reshape: the per-sample output shape (one entry may be -1, inferred).
    public var shape: [Int]?
    /// Concat / softmax: the per-sample axis (default: the last).
    public var axis: Int?
    /// Adaptive average pooling: output height and width (square).
    public var outputSize: Int?
    /// Select-token: which token (default 0, the class token).
    public var index: Int?

    /// A spec with just a kind and name; set the other fields as the kind needs.
    public init(_ kind: LayerKind, name: String, units: Int? = nil, inputs: Int? = nil, kernel: Int? = nil,
                stride: Int? = nil, padding: Int? = nil, bias: Bool? = nil, rate: Float? = nil,
                slope: Float? = nil, lambda: Float? = nil, momentum: Float? = nil, epsilon: Float? = nil,
                sources: [String]? = nil, pads: [Int]? = nil, groups: Int? = nil, dilation: Int? = nil,
                heads: Int? = nil, layout: String? = nil, shape: [Int]? = nil, axis: Int? = nil,
                outputSize: Int? = nil, index: Int? = nil) {
        self.kind = kind; self.name = name; self.units = units; self.inputs = inputs
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.bias = bias
        self.rate = rate; self.slope = slope; self.lambda = lambda
        self.momentum = momentum; self.epsilon = epsilon
        self.sources = sources; self.pads = pads; self.groups = groups; self.dilation = dilation
        self.heads = heads; self.layout = layout; self.shape = shape; self.axis = axis
        self.outputSize = outputSize; self.index = index
    }

    private enum CodingKeys: String, CodingKey {
        case kind, name, inputs, inFeatures, units, kernel, stride, padding, pads, groups, dilation, bias, rate, slope
        case lambda, momentum, epsilon, heads, layout, shape, axis, outputSize, index
    }

    /// Decodes a node. `inputs` is either an array of node names (version 2 wiring) or, as in
    /// version 1, the declared number of input features (also accepted as `inFeatures`).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(LayerKind.self, forKey: .kind)
        name = try c.decode(String.self, forKey: .name)
        if let names = try? c.decodeIfPresent([String].self, forKey: .inputs) {
            sources = names
            inputs = try c.decodeIfPresent(Int.self, forKey: .inFeatures)
        } else {
            inputs = try c.decodeIfPresent(Int.self, forKey: .inputs) ?? c.decodeIfPresent(Int.self, forKey: .inFeatures)
        }
        units = try c.decodeIfPresent(Int.self, forKey: .units)
        kernel = try c.decodeIfPresent(Int.self, forKey: .kernel)
        stride = try c.decodeIfPresent(Int.self, forKey: .stride)
        padding = try c.decodeIfPresent(Int.self, forKey: .padding)
        pads = try c.decodeIfPresent([Int].self, forKey: .pads)
        groups = try c.decodeIfPresent(Int.self, forKey: .groups)
        dilation = try c.decodeIfPresent(Int.self, forKey: .dilation)
        bias = try c.decodeIfPresent(Bool.self, forKey: .bias)
        rate = try c.decodeIfPresent(Float.self, forKey: .rate)
        slope = try c.decodeIfPresent(Float.self, forKey: .slope)
        lambda = try c.decodeIfPresent(Float.self, forKey: .lambda)
        momentum = try c.decodeIfPresent(Float.self, forKey: .momentum)
        epsilon = try c.decodeIfPresent(Float.self, forKey: .epsilon)
        heads = try c.decodeIfPresent(Int.self, forKey: .heads)
        layout = try c.decodeIfPresent(String.self, forKey: .layout)
        shape = try c.decodeIfPresent([Int].self, forKey: .shape)
        axis = try c.decodeIfPresent(Int.self, forKey: .axis)
        outputSize = try c.decodeIfPresent(Int.self, forKey: .outputSize)
        index = try c.decodeIfPresent(Int.self, forKey: .index)
    }

    /// Encodes a node; with wiring, the feature count moves to `inFeatures`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(name, forKey: .name)
        if let sources {
            try c.encode(sources, forKey: .inputs)
            try c.encodeIfPresent(inputs, forKey: .inFeatures)
        } else {
            try c.encodeIfPresent(inputs, forKey: .inputs)
        }
        try c.encodeIfPresent(units, forKey: .units)
        try c.encodeIfPresent(kernel, forKey: .kernel)
        try c.encodeIfPresent(stride, forKey: .stride)
        try c.encodeIfPresent(padding, forKey: .padding)
        try c.encodeIfPresent(pads, forKey: .pads)
        try c.encodeIfPresent(groups, forKey: .groups)
        try c.encodeIfPresent(dilation, forKey: .dilation)
        try c.encodeIfPresent(bias, forKey: .bias)
        try c.encodeIfPresent(rate, forKey: .rate)
        try c.encodeIfPresent(slope, forKey: .slope)
        try c.encodeIfPresent(lambda, forKey: .lambda)
        try c.encodeIfPresent(momentum, forKey: .momentum)
        try c.encodeIfPresent(epsilon, forKey: .epsilon)
        try c.encodeIfPresent(heads, forKey: .heads)
        try c.encodeIfPresent(layout, forKey: .layout)
        try c.encodeIfPresent(shape, forKey: .shape)
        try c.encodeIfPresent(axis, forKey: .axis)
        try c.encodeIfPresent(outputSize, forKey: .outputSize)
        try c.encodeIfPresent(index, forKey: .index)
    }
}

/// An error in a model description, naming the layer and what is wrong with it.
public struct ModelSpecError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    static func layer(_ spec: LayerSpec, _ problem: String) -> ModelSpecError {
        ModelSpecError("layer '\(spec.name)' (\(spec.kind.rawValue)): \(problem)")
    }
}
