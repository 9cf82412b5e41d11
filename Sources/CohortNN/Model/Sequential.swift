import CohortTensor

/// A model: named layers applied in order, built from a `ModelSpec`.
///
/// Transfer-learning controls live here: freezing by name prefix or layer range, head
/// replacement, splitting into backbone and head, and state dictionaries by dotted name.
/// `backward` stops at the earliest layer that has trainable parameters, so a frozen
/// backbone costs no backward work.
public final class Sequential {
    /// The layers, first to last.
    public private(set) var layers: [Layer]
    /// Per-sample input shape.
    public let inputShape: [Int]
    /// How many layers ran their backward pass in the last `backward` call.
    public private(set) var lastBackwardLayerCount = 0
    /// Samples passed through `forward` since creation (a work counter for tests and reports).
    public private(set) var forwardSampleCount = 0

    /// Builds a model with fresh weights drawn from `seed`. Shapes are checked layer by layer;
    /// an inconsistent description throws an error naming the layer.
    public init(spec: ModelSpec, seed: UInt64) throws {
        guard !spec.inputShape.isEmpty, spec.inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelSpecError("model description: inputShape must be non-empty and positive, got \(spec.inputShape)")
        }
        inputShape = spec.inputShape
        layers = []
        try append(spec.layers, seed: seed)
    }

    /// A model over existing layers (shared, not copied): used for backbone/head splits.
    public init(inputShape: [Int], layers: [Layer]) {
        self.inputShape = inputShape
        self.layers = layers
    }

    /// The description of the current model.
    public var spec: ModelSpec { ModelSpec(inputShape: inputShape, layers: layers.map(\.spec)) }

    /// Per-sample output shape.
    public var outputShape: [Int] { (try? shape(after: layers.count)) ?? [] }

    /// Per-sample shape after the first `count` layers.
    public func shape(after count: Int) throws -> [Int] {
        var s = inputShape
        for layer in layers.prefix(count) { s = try layer.outputShape(for: s) }
        return s
    }

    /// Appends freshly initialised layers; their names must be new.
    public func append(_ specs: [LayerSpec], seed: UInt64) throws {
        var shape = try self.shape(after: layers.count)
        var names = Set(layers.map(\.name))
        let root = SeededRandom(seed: seed)
        for spec in specs {
            guard !spec.name.isEmpty else { throw ModelSpecError("layer \(layers.count) (\(spec.kind.rawValue)) has an empty name") }
            guard names.insert(spec.name).inserted else { throw ModelSpecError.layer(spec, "name is used twice") }
            var rng = root.derived(stream: spec.name.hashValueStable)
            let layer = try LayerFactory.make(spec, inputShape: shape, rng: &rng)
            shape = try layer.outputShape(for: shape)
            layers.append(layer)
        }
    }

    /// Runs the batch through every layer.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(Array(x.shape.dropFirst()) == inputShape || x.columns == inputShape.reduce(1, *),
                     "model expects samples of shape \(inputShape), got batch shape \(x.shape)")
        var h = x
        if h.rank - 1 != inputShape.count { h = h.reshaped([h.rows] + inputShape) }
        for layer in layers { h = layer.forward(h, mode: mode) }
        forwardSampleCount += x.rows
        return h
    }

    /// Index of the earliest layer with a trainable parameter, or nil when all are frozen.
    public var firstTrainableLayer: Int? { layers.firstIndex { $0.hasTrainableParameters } }

    /// Back-propagates the loss gradient `dy` of the last forward call, accumulating parameter
    /// gradients. Stops at the earliest trainable layer unless the input gradient is wanted.
    @discardableResult
    public func backward(_ dy: Tensor, needsInputGradient: Bool = false) -> Tensor? {
        let stop = needsInputGradient ? 0 : (firstTrainableLayer ?? layers.count)
        var g: Tensor? = dy
        lastBackwardLayerCount = 0
        var i = layers.count - 1
        while i >= stop, let grad = g {
            g = layers[i].backward(grad, needsInputGradient: i > stop || needsInputGradient)
            lastBackwardLayerCount += 1
            i -= 1
        }
        return needsInputGradient ? g : nil
    }

    /// Every parameter, in layer order.
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    /// Parameters that training updates.
    public var trainableParameters: [Parameter] { parameters.filter(\.isTrainable) }
    /// Every buffer (running statistics), in layer order.
    public var buffers: [Buffer] { layers.flatMap(\.buffers) }
    /// Number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Zeroes every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// Freezes (or, with `false`, unfreezes) every parameter whose name starts with `prefix`
    /// followed by a dot or the end (so `features.1` does not match `features.10`).
    /// Returns how many parameters changed state.
    @discardableResult
    public func setTrainable(_ trainable: Bool, prefix: String) -> Int {
        var changed = 0
        for p in parameters where Sequential.name(p.name, hasPrefix: prefix) && p.isTrainable != trainable {
            p.isTrainable = trainable
            changed += 1
        }
        return changed
    }

    /// Freezes (or unfreezes) every parameter of the layers at `range`.
    public func setTrainable(_ trainable: Bool, layers range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= layers.count,
                     "layer range \(range) outside 0..<\(layers.count)")
        for layer in layers[range] { for p in layer.parameters { p.isTrainable = trainable } }
    }

    /// Whether `name` equals `prefix` or continues it after a dot. An empty prefix matches all.
    public static func name(_ name: String, hasPrefix prefix: String) -> Bool {
        prefix.isEmpty || name == prefix || name.hasPrefix(prefix.hasSuffix(".") ? prefix : prefix + ".")
    }

    /// Named parameter and buffer values, in layer order.
    public func stateDict() -> [(name: String, value: Tensor)] {
        layers.flatMap { layer in
            layer.parameters.map { ($0.name, $0.value) } + layer.buffers.map { ($0.name, $0.value) }
        }
    }

    /// Loads named values into matching parameters and buffers. With `strict`, every model
    /// tensor must be present; unknown names and shape mismatches are always errors, each listed.
    public func load(_ state: [String: Tensor], strict: Bool = true) throws {
        var problems: [String] = []
        var seen = Set<String>()
        func assign(_ name: String, _ shape: [Int], _ set: (Tensor) -> Void) {
            guard let v = state[name] else {
                if strict { problems.append("missing '\(name)' \(shape)") }
                return
            }
            seen.insert(name)
            guard v.shape == shape else { problems.append("'\(name)': shape \(v.shape), model has \(shape)"); return }
            guard v.isFinite else { problems.append("'\(name)': contains NaN or infinity"); return }
            set(v)
        }
        // Validate everything first so a failed load changes nothing.
        var pending: [() -> Void] = []
        for p in parameters { assign(p.name, p.value.shape) { v in pending.append { p.value = v } } }
        for b in buffers { assign(b.name, b.value.shape) { v in pending.append { b.value = v } } }
        for name in state.keys.sorted() where !seen.contains(name) { problems.append("unexpected '\(name)'") }
        guard problems.isEmpty else { throw ModelSpecError("cannot load state: " + problems.joined(separator: "; ")) }
        for apply in pending { apply() }
    }

    /// Head replacement: drops the last `dropLast` layers and appends fresh ones (e.g. a new
    /// classifier for a different number of classes). The kept layers' weights are untouched.
    public func replaceHead(dropLast: Int, with newLayers: [LayerSpec], seed: UInt64) throws {
        guard dropLast >= 0 && dropLast <= layers.count else {
            throw ModelSpecError("cannot drop \(dropLast) layers from a model of \(layers.count)")
        }
        let kept = Array(layers.prefix(layers.count - dropLast))
        let removed = Array(layers.suffix(dropLast))
        layers = kept
        do { try append(newLayers, seed: seed) } catch { layers = kept + removed; throw error }
    }

    /// Splits into a backbone (layers `0..<index`) and a head (the rest), sharing the layers.
    public func split(at index: Int) throws -> (backbone: Sequential, head: Sequential) {
        precondition(index >= 0 && index <= layers.count, "split index \(index) outside 0...\(layers.count)")
        let mid = try shape(after: index)
        return (Sequential(inputShape: inputShape, layers: Array(layers.prefix(index))),
                Sequential(inputShape: mid, layers: Array(layers.suffix(from: index))))
    }

    /// The layer with the given name.
    public func layer(named name: String) -> Layer? { layers.first { $0.name == name } }
}
