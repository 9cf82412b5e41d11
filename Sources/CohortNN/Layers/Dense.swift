import CohortTensor

/// Fully connected layer: `y = x·Wᵀ + b`, weight `[units, inputs]` as in PyTorch's `Linear`.
///
/// Two kinds share it: `dense` flattens each sample to `inputs` features (`[N, …] → [N, units]`);
/// `linear` acts on the last axis of any per-sample rank (`[N, T, inputs] → [N, T, units]`),
/// one GEMM over all `N·T` rows.
public final class Dense: Layer {
    public let spec: LayerSpec
    public let weight: Parameter
    public let bias: Parameter?
    public let inputs: Int
    public let units: Int
    private var input = Tensor(shape: [0])
    private let packedWeight = PackedWeightCache()

    /// A layer initialised like PyTorch's `Linear` (uniform in ±1/√inputs), or with zeros
    /// (`initialization: .zeros`, `rng` untouched).
    public init(spec: LayerSpec, inputs: Int, rng: inout SeededRandom, initialization: WeightInitialization = .seeded) {
        let units = spec.units!
        self.spec = spec
        self.inputs = inputs
        self.units = units
        let bound = 1 / Float(inputs).squareRoot()
        weight = Parameter(name: spec.name + ".weight",
                           value: Tensor(shape: [units, inputs], data: initialization.uniform(count: units * inputs, -bound, bound, rng: &rng)))
        bias = (spec.bias ?? true)
            ? Parameter(name: spec.name + ".bias", value: Tensor(shape: [units], data: initialization.uniform(count: units, -bound, bound, rng: &rng)))
            : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// True for the `linear` kind (last axis only).
    private var isTokenwise: Bool { spec.kind == .linear }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        if isTokenwise {
            guard inputShape.last == inputs else {
                throw ModelSpecError.layer(spec, "expects \(inputs) features on the last axis, gets shape \(inputShape)")
            }
            return inputShape.dropLast() + [units]
        }
        let n = inputShape.reduce(1, *)
        guard n == inputs else {
            throw ModelSpecError.layer(spec, "expects \(inputs) input features, gets shape \(inputShape) (\(n)); add a flatten layer or fix 'inputs'")
        }
        return [units]
    }

    /// Rows of the product for input `x` (checked against `inputs`).
    private func productRows(_ x: Tensor) -> Int {
        if isTokenwise {
            precondition(x.shape.last == inputs, "\(spec.name): input has \(x.shape.last ?? 0) features on the last axis, expected \(inputs)")
            return x.count / inputs
        }
        precondition(x.columns == inputs, "\(spec.name): input has \(x.columns) features per sample, expected \(inputs)")
        return x.rows
    }

    /// Output shape for input `x`.
    private func outputShape(of x: Tensor, rows n: Int) -> [Int] { isTokenwise ? x.shape.dropLast() + [units] : [n, units] }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        if mode == .inference && InferenceProjection.enabled { return inferenceForward(x, epilogue: .none) }
        let n = productRows(x)
        input = x
        var out = [Float].uninitialized(count: n * units)
        if let bias {
            bias.value.data.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in VectorKernels.fillRows(rows: n, cols: units, row: b.baseAddress!, into: o.baseAddress!) }
            }
        }
        Gemm.multiply(transA: false, transB: true, m: n, n: units, k: inputs, a: x.data, lda: inputs,
                      b: weight.value.data, ldb: inputs, beta: bias == nil ? 0 : 1, c: &out, ldc: units)
        return Tensor(shape: outputShape(of: x, rows: n), data: out)
    }

    /// The inference forward: the weight packed once and kept (`PackedWeightCache`), nothing
    /// kept for backward, and the epilogue (a residual sum, GELU) fused in. Without an epilogue
    /// the values equal `.evaluation`'s; with a residual, `x·Wᵀ + (b + r)` may differ from
    /// `(x·Wᵀ + b) + r` in the last bit.
    func inferenceForward(_ x: Tensor, epilogue: ProjectionEpilogue) -> Tensor {
        let n = productRows(x)
        input = Tensor(shape: [0])
        var out = [Float].uninitialized(count: n * units)
        x.data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { o in
                InferenceProjection.run(x: xp.baseAddress!, rows: n, inputs: inputs, units: units, weight: weight, cache: packedWeight,
                                        bias: bias, epilogue: epilogue, into: o.baseAddress!)
            }
        }
        return Tensor(shape: outputShape(of: x, rows: n), data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        let n = dy.count / units
        if weight.isTrainable {
            weight.accumulateGradient { grad, overwrite in
                Gemm.multiply(transA: true, transB: false, m: units, n: inputs, k: n, a: dy.data, lda: units,
                              b: input.data, ldb: inputs, beta: overwrite ? 0 : 1, c: &grad.data, ldc: inputs)
            }
        }
        if let bias, bias.isTrainable { bias.grad.add(dy.reshaped([n, units]).sumRows()) }
        guard needsInputGradient else { return nil }
        var dx = [Float].uninitialized(count: n * inputs)
        Gemm.multiply(transA: false, transB: false, m: n, n: inputs, k: units, a: dy.data, lda: units,
                      b: weight.value.data, ldb: inputs, c: &dx, ldc: inputs)
        return Tensor(shape: input.shape, data: dx)
    }
}
