import CohortTensor

/// A model: a graph of named layers (nodes) listed in an order where every node comes after
/// the nodes it reads, built from a `ModelSpec`. A chain of layers (version 1) is the graph in
/// which every node reads the one before it.
///
/// Transfer-learning controls live here: freezing by name prefix or layer range, head
/// replacement, splitting into backbone and head, and state dictionaries by dotted name.
/// `backward` stops at the earliest layer that has trainable parameters, so a frozen
/// backbone costs no backward work.
public final class Sequential {
    /// The layers (graph nodes), each after the nodes it reads; the last is the output.
    public private(set) var layers: [Layer]
    /// For each layer, the indices of the nodes it reads, in order; -1 is the model input.
    public private(set) var wiring: [[Int]]
    /// Per-sample input shape.
    public let inputShape: [Int]
    /// How many layers ran their backward pass in the last `backward` call.
    public private(set) var lastBackwardLayerCount = 0
    /// Samples passed through `forward` since creation (a work counter for tests and reports).
    public private(set) var forwardSampleCount = 0
    /// Per-sample output shape of each node.
    private var shapes: [[Int]] = []
    /// For each node, the last node that reads it (its output can be dropped after that).
    private var lastReader: [Int] = []
    /// The LoRA factors, when the description asks for them.
    private var lora: LoRAAdapter?

    /// Builds a model with fresh weights drawn from `seed` (or, with `initialization: .zeros`,
    /// its large weights left at zero for values loaded next). The whole description is checked
    /// (names, wiring, every field, shapes and the size `budget`) before anything is allocated;
    /// an inconsistent description throws an error naming the node.
    public init(spec: ModelSpec, seed: UInt64, budget: ModelBudget = .standard, initialization: WeightInitialization = .seeded) throws {
        try Sequential.checkInputShape(spec.inputShape, budget: budget)
        inputShape = spec.inputShape
        layers = []
        wiring = []
        try append(spec.layers, seed: seed, budget: budget, initialization: initialization)
        if let config = spec.lora {
            lora = try LoRAAdapter(spec: config, layers: layers, seed: seed)
            // Weights loaded next are merged then (`load`, and `forward` merges anyway).
            if initialization == .seeded { lora?.materialize() }
        }
    }

    /// A chain over existing layers (shared, not copied): used for backbone/head splits.
    public convenience init(inputShape: [Int], layers: [Layer]) {
        self.init(inputShape: inputShape, layers: layers, wiring: layers.indices.map { [$0 - 1] })
    }

    /// A graph over existing layers (shared, not copied) with the given wiring.
    init(inputShape: [Int], layers: [Layer], wiring: [[Int]]) {
        self.inputShape = inputShape
        self.layers = layers
        self.wiring = wiring
        var shapes: [[Int]] = []
        for (layer, sources) in zip(layers, wiring) {
            let ins = sources.map { $0 < 0 ? inputShape : shapes[$0] }
            let out = (try? (layer as? MergeLayer)?.outputShape(forInputs: ins) ?? layer.outputShape(for: ins[0])) ?? []
            shapes.append(out)
        }
        self.shapes = shapes
        recomputeReaders()
    }

    /// The description of the current model (nodes that do not read the node before them
    /// name their inputs).
    public var spec: ModelSpec {
        ModelSpec(inputShape: inputShape, layers: layers.indices.map { i in
            var s = layers[i].spec
            s.sources = wiring[i] == [i - 1] ? nil : wiring[i].map { $0 < 0 ? GraphOrder.inputName : layers[$0].name }
            return s
        }, lora: lora?.spec)
    }

    /// Per-sample output shape.
    public var outputShape: [Int] { shapes.last ?? inputShape }

    /// Per-sample shape after the first `count` layers (the output of node `count - 1`).
    public func shape(after count: Int) throws -> [Int] {
        guard count >= 0 && count <= layers.count else { throw ModelSpecError("node index \(count) is outside 0...\(layers.count)") }
        return count == 0 ? inputShape : shapes[count - 1]
    }

    /// Appends freshly initialised nodes; their names must be new. A node without `sources`
    /// reads the node listed before it (the current output for the first).
    public func append(_ specs: [LayerSpec], seed: UInt64, budget: ModelBudget = .standard,
                       initialization: WeightInitialization = .seeded) throws {
        let ordered = try GraphOrder.resolve(specs, existing: layers.map(\.name))
        let total = parameterCount + buffers.reduce(0) { $0 + $1.value.count }
        let newShapes = try Sequential.plan(ordered, inputShape: inputShape, shapes: shapes, parameters: total, budget: budget)
        let root = SeededRandom(seed: seed)
        var built: [Layer] = []
        for (spec, sources) in ordered {
            var rng = root.derived(stream: spec.name.hashValueStable)
            let ins = sources.map { $0 < 0 ? inputShape : ($0 < shapes.count ? shapes[$0] : newShapes[$0 - shapes.count]) }
            built.append(try LayerFactory.make(spec, inputShapes: ins, budget: budget, rng: &rng, initialization: initialization))
        }
        layers += built
        wiring += ordered.map(\.sources)
        shapes += newShapes
        recomputeReaders()
    }

    /// Checks a whole description (input shape, names, wiring, every field, shapes and the
    /// size budget) without allocating any weights; returns it unchanged when it is sound.
    @discardableResult
    public static func check(_ spec: ModelSpec, budget: ModelBudget = .standard) throws -> ModelSpec {
        try checkInputShape(spec.inputShape, budget: budget)
        _ = try plan(try GraphOrder.resolve(spec.layers, existing: []), inputShape: spec.inputShape, shapes: [], parameters: 0, budget: budget)
        return spec
    }

    private static func checkInputShape(_ shape: [Int], budget: ModelBudget) throws {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }), SizeMath.product(shape, limit: budget.maxValuesPerSample) != nil else {
            throw ModelSpecError("model description: inputShape must be non-empty, positive and at most \(budget.maxValuesPerSample) values, got \(shape)")
        }
    }

    /// The output shapes of `ordered` nodes appended after nodes of `shapes`, every node
    /// checked and the running parameter total kept within the budget.
    private static func plan(_ ordered: [(spec: LayerSpec, sources: [Int])], inputShape: [Int], shapes: [[Int]],
                             parameters: Int, budget: ModelBudget) throws -> [[Int]] {
        var newShapes: [[Int]] = []
        var total = parameters
        for (spec, sources) in ordered {
            let ins = sources.map { $0 < 0 ? inputShape : ($0 < shapes.count ? shapes[$0] : newShapes[$0 - shapes.count]) }
            let checked = try LayerCheck.check(spec, inputShapes: ins, budget: budget)
            guard let t = SizeMath.sum(total, checked.parameterCount), t <= budget.maxParameters else {
                throw ModelSpecError("model description: more than \(budget.maxParameters) parameters (at node '\(spec.name)')")
            }
            total = t
            newShapes.append(checked.outputShape)
        }
        return newShapes
    }

    private func recomputeReaders() {
        lastReader = Array(layers.indices)
        for (i, sources) in wiring.enumerated() { for s in sources where s >= 0 { lastReader[s] = max(lastReader[s], i) } }
    }

    /// Runs the batch through every node.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(Array(x.shape.dropFirst()) == inputShape || x.columns == inputShape.reduce(1, *),
                     "model expects samples of shape \(inputShape), got batch shape \(x.shape)")
        var h = x
        if h.rank - 1 != inputShape.count { h = h.reshaped([h.rows] + inputShape) }
        forwardSampleCount += x.rows
        guard !layers.isEmpty else { return h }
        lora?.materialize()
        var outputs = [Tensor?](repeating: nil, count: layers.count)
        var fusedUntil = -1
        for i in layers.indices {
            let sources = wiring[i]
            let out: Tensor
            if i <= fusedUntil {
                // Already computed by the convolution this node was folded into.
                out = outputs[i - 1]!
                outputs[i - 1] = nil
            } else if mode == .inference, let fused = inferenceFusion(at: i) {
                out = fused.conv.forward(sources[0] < 0 ? h : outputs[sources[0]]!, mode: mode, epilogue: fused.epilogue)
                fusedUntil = fused.last
            } else if mode == .inference, InferenceProjection.enabled, let fused = projectionFusion(at: i) {
                let x = sources[0] < 0 ? h : outputs[sources[0]]!
                var epilogue = ProjectionEpilogue()
                epilogue.gelu = fused.gelu
                epilogue.residual = fused.residual.map { $0 < 0 ? h : outputs[$0]! }
                if let dense = layers[i] as? Dense {
                    out = dense.inferenceForward(x, epilogue: epilogue)
                } else {
                    out = (layers[i] as! MultiHeadAttention).inferenceForward(x, epilogue: epilogue)
                }
                fusedUntil = i + 1
            } else if sources.count == 1 {
                out = layers[i].forward(sources[0] < 0 ? h : outputs[sources[0]]!, mode: mode)
            } else {
                out = (layers[i] as! MergeLayer).forward(sources.map { $0 < 0 ? h : outputs[$0]! }, mode: mode)
            }
            outputs[i] = out
            for s in sources where s >= 0 && lastReader[s] == i { outputs[s] = nil }
        }
        return outputs[layers.count - 1]!
    }

    /// In inference mode, a `conv2d` read only by the `batchnorm2d` after it (itself read only
    /// by a `relu` after it, optionally) runs as one convolution with a per-channel epilogue:
    /// the same values, one pass over the output instead of two or three. Returns the conv,
    /// the epilogue and the index of the last node folded in.
    private func inferenceFusion(at i: Int) -> (conv: Conv2D, epilogue: Conv2D.Epilogue, last: Int)? {
        guard i + 1 < layers.count, wiring[i].count == 1, let conv = layers[i] as? Conv2D,
              let bn = layers[i + 1] as? BatchNorm, bn.spec.kind == .batchnorm2d, bn.features == conv.outChannels,
              wiring[i + 1] == [i], lastReader[i] == i + 1 else { return nil }
        let (scale, shift) = bn.inferenceAffine()
        var last = i + 1
        var relu = false
        if i + 2 < layers.count, let act = layers[i + 2] as? Activation, act.spec.kind == .relu,
           wiring[i + 2] == [i + 1], lastReader[i + 1] == i + 2 {
            relu = true
            last = i + 2
        }
        return (conv, Conv2D.Epilogue(scale: scale, shift: shift, relu: relu), last)
    }

    /// In inference mode, a projection (`linear`/`dense`, or attention) whose output only the
    /// next node reads, that node being a `gelu` or an `add` of it and one other node of the
    /// same shape (a residual connection), runs with that node fused into its output pass
    /// (`ProjectionEpilogue`). Returns whether GELU is fused, or the residual's source (-1 is
    /// the model input); the fused node is `i + 1`.
    private func projectionFusion(at i: Int) -> (gelu: Bool, residual: Int?)? {
        guard i + 1 < layers.count, wiring[i].count == 1, lastReader[i] == i + 1,
              layers[i] is Dense || layers[i] is MultiHeadAttention else { return nil }
        let next = layers[i + 1], reads = wiring[i + 1]
        if let act = next as? Activation, act.spec.kind == .gelu, reads == [i], layers[i] is Dense {
            return (true, nil)
        }
        if next is Add, reads.count == 2, reads.filter({ $0 == i }).count == 1 {
            let other = reads[0] == i ? reads[1] : reads[0]
            guard (other < 0 ? inputShape : shapes[other]) == shapes[i] else { return nil }
            return (false, other)
        }
        return nil
    }

    /// Index of the earliest layer with a trainable parameter, or nil when all are frozen.
    public var firstTrainableLayer: Int? { layers.firstIndex { $0.hasTrainableParameters } }

    /// Back-propagates the loss gradient `dy` of the last forward call, accumulating parameter
    /// gradients. Stops at the earliest trainable layer unless the input gradient is wanted.
    @discardableResult
    public func backward(_ dy: Tensor, needsInputGradient: Bool = false) -> Tensor? {
        let stop = needsInputGradient ? 0 : (firstTrainableLayer ?? layers.count)
        lastBackwardLayerCount = 0
        guard !layers.isEmpty else { return needsInputGradient ? dy : nil }
        var grads = [Tensor?](repeating: nil, count: layers.count)
        var inputGradient: Tensor?
        grads[layers.count - 1] = dy
        func accumulate(_ g: Tensor, into source: Int) {
            if source < 0 {
                guard needsInputGradient else { return }
                if inputGradient == nil { inputGradient = g } else { inputGradient!.add(g) }
            } else if source >= stop {
                if grads[source] == nil { grads[source] = g } else { grads[source]!.add(g) }
            }
        }
        var i = layers.count - 1
        while i >= stop {
            defer { i -= 1 }
            guard let g = grads[i] else { continue }
            grads[i] = nil
            let sources = wiring[i]
            lastBackwardLayerCount += 1
            if sources.count == 1 {
                let wanted = needsInputGradient || sources[0] >= stop
                if let dx = layers[i].backward(g, needsInputGradient: wanted), wanted { accumulate(dx, into: sources[0]) }
            } else {
                let parts = (layers[i] as! MergeLayer).backwardInputs(g)
                for (source, part) in zip(sources, parts) { accumulate(part, into: source) }
            }
        }
        lora?.foldGradients()
        return needsInputGradient ? inputGradient : nil
    }

    /// Every parameter, in layer order, then the LoRA factors.
    public var parameters: [Parameter] { layers.flatMap(\.parameters) + (lora?.parameters ?? []) }
    /// Parameters that training updates (LoRA base weights are not among them).
    public var trainableParameters: [Parameter] { parameters.filter(\.isUpdated) }
    /// The LoRA configuration, if the model has one.
    public var loraSpec: LoRASpec? { lora?.spec }
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

    /// Named parameter and buffer values, in layer order, then the LoRA factors. An adapted
    /// weight is stored as its frozen base W₀.
    public func stateDict() -> [(name: String, value: Tensor)] {
        layers.flatMap { layer in
            layer.parameters.map { ($0.name, lora?.base(of: $0.name) ?? $0.value) } + layer.buffers.map { ($0.name, $0.value) }
        } + (lora?.parameters.map { ($0.name, $0.value) } ?? [])
    }

    /// The state with every LoRA update merged into its weight (W₀ + s·B·A) and no factors,
    /// with the description that goes with it (`lora` removed).
    public func mergedState() -> (spec: ModelSpec, state: [(name: String, value: Tensor)]) {
        guard let lora else { return (spec, stateDict()) }
        let merged = lora.mergedWeights()
        let factors = Set(lora.parameters.map(\.name))
        var plain = spec
        plain.lora = nil
        plain.version = 2
        return (plain, stateDict().filter { !factors.contains($0.name) }.map { ($0.name, merged[$0.name] ?? $0.value) })
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
        for p in parameters {
            assign(p.name, p.value.shape) { v in
                pending.append { [lora] in
                    if p.isLoRABase { lora?.setBase(v, of: p.name) } else { p.value = v }
                }
            }
        }
        for b in buffers { assign(b.name, b.value.shape) { v in pending.append { b.value = v } } }
        for name in state.keys.sorted() where !seen.contains(name) { problems.append("unexpected '\(name)'") }
        guard problems.isEmpty else { throw ModelSpecError("cannot load state: " + problems.joined(separator: "; ")) }
        for apply in pending { apply() }
        lora?.materialize()
    }

    /// Head replacement: drops the last `dropLast` layers and appends fresh ones (e.g. a new
    /// classifier for a different number of classes). The kept layers' weights are untouched.
    public func replaceHead(dropLast: Int, with newLayers: [LayerSpec], seed: UInt64) throws {
        guard dropLast >= 0 && dropLast <= layers.count else {
            throw ModelSpecError("cannot drop \(dropLast) layers from a model of \(layers.count)")
        }
        let keep = layers.count - dropLast
        let saved = (layers, wiring, shapes)
        layers.removeLast(dropLast); wiring.removeLast(dropLast); shapes.removeLast(dropLast)
        do { try append(newLayers, seed: seed) } catch {
            (layers, wiring, shapes) = saved
            recomputeReaders()
            throw error
        }
        _ = keep
    }

    /// Head replacement by node name: drops the node `name` and every node after it (`fc`,
    /// `classifier`, `head` in the presets) and appends fresh ones.
    public func replaceHead(from name: String, with newLayers: [LayerSpec], seed: UInt64) throws {
        guard let index = layers.firstIndex(where: { $0.name == name }) else {
            throw ModelSpecError("no node named '\(name)' to replace (nodes: \(layers.suffix(5).map(\.name).joined(separator: ", ")), …)")
        }
        try replaceHead(dropLast: layers.count - index, with: newLayers, seed: seed)
    }

    /// Splits into a backbone (nodes `0..<index`) and a head (the rest), sharing the layers.
    /// In a graph the cut must be a single point: no node at or after `index` may read a node
    /// before `index - 1` (or the model input, unless `index` is 0).
    public func split(at index: Int) throws -> (backbone: Sequential, head: Sequential) {
        guard index >= 0 && index <= layers.count else {
            throw ModelSpecError("split index \(index) is outside 0...\(layers.count)")
        }
        for i in index..<layers.count {
            for s in wiring[i] where s < index && s != index - 1 {
                throw ModelSpecError("cannot cut the graph after node \(index > 0 ? "'\(layers[index - 1].name)'" : "input"): node '\(layers[i].name)' also reads \(s < 0 ? "the input" : "'\(layers[s].name)'")")
            }
        }
        let mid = try shape(after: index)
        let backbone = Sequential(inputShape: inputShape, layers: Array(layers.prefix(index)), wiring: Array(wiring.prefix(index)))
        let headWiring = wiring.suffix(from: index).map { $0.map { $0 - index } }
        return (backbone, Sequential(inputShape: mid, layers: Array(layers.suffix(from: index)), wiring: headWiring))
    }

    /// Splits after the node named `name` (a feature-extraction cut, e.g. `avgpool`).
    public func split(after name: String) throws -> (backbone: Sequential, head: Sequential) {
        guard let index = layers.firstIndex(where: { $0.name == name }) else {
            throw ModelSpecError("no node named '\(name)' to cut at")
        }
        return try split(at: index + 1)
    }

    /// The layer with the given name.
    public func layer(named name: String) -> Layer? { layers.first { $0.name == name } }
}
