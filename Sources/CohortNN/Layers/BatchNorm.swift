import CohortTensor

/// Batch normalisation over the last (feature or channel) dimension.
///
/// `batchnorm1d` takes `[n, features]`, `batchnorm2d` takes NHWC `[n, h, w, channels]`; with
/// channels last both normalise each channel over all other positions, so one implementation
/// serves both. Training uses batch statistics and updates the running ones (unbiased variance,
/// as PyTorch); evaluation uses the running statistics.
public final class BatchNorm: Layer {
    public let spec: LayerSpec
    public let features: Int
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Buffer
    public let runningVar: Buffer
    public let momentum: Float
    public let epsilon: Float
    /// When false, training-mode forward passes leave the running statistics untouched.
    public var updatesRunningStatistics = true
    /// When set, training-mode forward passes replace the momentum update with a cumulative
    /// average over the batches seen since it was set to 0 (as AdaBN needs); nil: momentum.
    public var cumulativeBatches: Int?
    private var normalized: [Float] = []
    private var inverseStd: [Float] = []
    private var inputShape: [Int] = []

    /// A layer with γ = 1, β = 0, running mean 0 and running variance 1.
    public init(spec: LayerSpec, features: Int) {
        self.spec = spec
        self.features = features
        momentum = spec.momentum ?? 0.1
        epsilon = spec.epsilon ?? 1e-5
        weight = Parameter(name: spec.name + ".weight", value: Tensor(shape: [features], repeating: 1), isNormalization: true)
        bias = Parameter(name: spec.name + ".bias", value: Tensor(shape: [features]), isNormalization: true)
        runningMean = Buffer(name: spec.name + ".running_mean", value: Tensor(shape: [features]))
        runningVar = Buffer(name: spec.name + ".running_var", value: Tensor(shape: [features], repeating: 1))
    }

    public var parameters: [Parameter] { [weight, bias] }
    public var buffers: [Buffer] { [runningMean, runningVar] }

    public func outputShape(for s: [Int]) throws -> [Int] {
        let rank = spec.kind == .batchnorm2d ? 3 : 1
        guard s.count == rank, s.last == features else {
            throw ModelSpecError.layer(spec, "expects per-sample shape \(rank == 3 ? "[h, w, \(features)]" : "[\(features)]"), gets \(s)")
        }
        return s
    }

    /// Per-channel mean and biased variance of a batch (accumulated in Double).
    public static func channelStatistics(_ x: Tensor, channels c: Int) -> (mean: [Float], variance: [Float]) {
        let rows = x.count / c
        var sum = [Double](repeating: 0, count: c), sq = [Double](repeating: 0, count: c)
        x.data.withUnsafeBufferPointer { p in
            sum.withUnsafeMutableBufferPointer { ps in
                sq.withUnsafeMutableBufferPointer { pq in
                    NormKernels.channelSums(rows: rows, channels: c, x: p.baseAddress!, sum: ps.baseAddress!, sumSquares: pq.baseAddress!)
                }
            }
        }
        let inv = 1 / Double(max(rows, 1))
        let mean = sum.map { Float($0 * inv) }
        let variance = (0..<c).map { j in Float(max(sq[j] * inv - (sum[j] * inv) * (sum[j] * inv), 0)) }
        return (mean, variance)
    }

    /// The evaluation-mode map as a per-channel `y = x·scale + shift` (running statistics
    /// folded into γ and β), for one pass over the data or fusing into the layer before.
    public func inferenceAffine() -> (scale: [Float], shift: [Float]) {
        let g = weight.value.data, b = bias.value.data, m = runningMean.value.data, v = runningVar.value.data
        var scale = [Float](repeating: 0, count: features), shift = [Float](repeating: 0, count: features)
        for j in 0..<features {
            // max(·, 0): averaged or lossy-decoded running variances can dip below zero.
            let s = g[j] / (max(v[j], 0) + epsilon).squareRoot()
            scale[j] = s
            shift[j] = b[j] - m[j] * s
        }
        return (scale, shift)
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.shape.last == features, "\(spec.name): expects \(features) channels last, got \(x.shape)")
        inputShape = x.shape
        lastMode = mode
        let c = features, rows = x.count / c
        var out = [Float].uninitialized(count: x.count)
        if mode == .inference {
            // No backward follows: one affine pass, nothing kept.
            normalized = []
            let (scale, shift) = inferenceAffine()
            x.data.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { po in
                    NormKernels.affine(rows: rows, channels: c, x: px.baseAddress!, scale: scale, shift: shift, relu: false, y: po.baseAddress!)
                }
            }
            return Tensor(shape: x.shape, data: out)
        }
        let mean: [Float], variance: [Float]
        if mode == .training {
            precondition(rows > 1, "\(spec.name): batch statistics need more than one value per channel")
            (mean, variance) = BatchNorm.channelStatistics(x, channels: c)
            if updatesRunningStatistics {
                let unbias = Float(rows) / Float(rows - 1)
                var rate = momentum
                if let k = cumulativeBatches {
                    cumulativeBatches = k + 1
                    rate = 1 / Float(k + 1)
                }
                for j in 0..<c {
                    runningMean.value.data[j] = (1 - rate) * runningMean.value.data[j] + rate * mean[j]
                    runningVar.value.data[j] = (1 - rate) * runningVar.value.data[j] + rate * variance[j] * unbias
                }
            }
        } else {
            (mean, variance) = (runningMean.value.data, runningVar.value.data)
        }
        // max(·, 0): averaged or lossy-decoded running variances can dip below zero.
        inverseStd = variance.map { 1 / (max($0, 0) + epsilon).squareRoot() }
        if normalized.count != x.count { normalized = [Float].uninitialized(count: x.count) }
        x.data.withUnsafeBufferPointer { px in
            normalized.withUnsafeMutableBufferPointer { pn in
                out.withUnsafeMutableBufferPointer { po in
                    NormKernels.normalize(rows: rows, channels: c, x: px.baseAddress!, mean: mean, inverseStd: inverseStd,
                                          gamma: weight.value.data, beta: bias.value.data,
                                          normalized: pn.baseAddress!, y: po.baseAddress!)
                }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    private var lastMode = ForwardMode.training

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        precondition(lastMode != .inference, "\(spec.name): backward after an inference-mode forward")
        let c = features, rows = dy.count / c
        var sumDy = [Float](repeating: 0, count: c), sumDyXh = [Float](repeating: 0, count: c)
        dy.data.withUnsafeBufferPointer { pd in
            normalized.withUnsafeBufferPointer { pn in
                NormKernels.backwardSums(rows: rows, channels: c, dy: pd.baseAddress!, normalized: pn.baseAddress!,
                                         sumDy: &sumDy, sumDyXh: &sumDyXh)
            }
        }
        if weight.isTrainable { for j in 0..<c { weight.grad.data[j] += sumDyXh[j] } }
        if bias.isTrainable { for j in 0..<c { bias.grad.data[j] += sumDy[j] } }
        guard needsInputGradient else { return nil }
        var dx = [Float].uninitialized(count: dy.count)
        let g = weight.value.data
        let scale = (0..<c).map { g[$0] * inverseStd[$0] }
        let inv = 1 / Float(rows)
        // Batch statistics depend on every input: the full BatchNorm backward. With running
        // statistics the map is affine per channel: dx = scale·dy.
        let training = lastMode == .training
        let meanDy = training ? sumDy.map { $0 * inv } : [Float](repeating: 0, count: c)
        let meanDyXh = training ? sumDyXh.map { $0 * inv } : [Float](repeating: 0, count: c)
        dy.data.withUnsafeBufferPointer { pd in
            normalized.withUnsafeBufferPointer { pn in
                dx.withUnsafeMutableBufferPointer { px in
                    NormKernels.backwardInput(rows: rows, channels: c, dy: pd.baseAddress!, normalized: pn.baseAddress!,
                                              scale: scale, meanDy: meanDy, meanDyXh: meanDyXh, dx: px.baseAddress!)
                }
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
