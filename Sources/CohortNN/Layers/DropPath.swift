import CohortTensor

/// Stochastic depth (timm's `DropPath`): in training, zeroes each whole sample with
/// probability `rate` and scales the kept samples by 1/(1−rate); the identity in evaluation.
/// Placed on a residual branch before the `add`, it drops that branch for the sample.
public final class DropPath: Layer {
    public let spec: LayerSpec
    public let rate: Float
    private var rng: SeededRandom
    /// One factor per sample of the last training forward (empty: identity).
    private var mask: [Float] = []
    /// When false the layer is the identity even in training mode.
    public var isActive = true
    /// When true, training-mode forward passes reuse the previous mask (same batch size), so
    /// the layer is a fixed function: used for finite-difference checks and replays.
    public var reusesMask = false

    /// A drop-path layer drawing its masks from `rng`.
    public init(spec: LayerSpec, rng: SeededRandom) {
        self.spec = spec
        rate = spec.rate ?? 0
        self.rng = rng
    }

    public func outputShape(for s: [Int]) throws -> [Int] { try LayerCheck.check(spec, inputShapes: [s]).outputShape }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        guard mode == .training && rate > 0 && isActive else { mask = []; return x }
        let n = x.rows
        if !(reusesMask && mask.count == n) {
            let keep = 1 / (1 - rate)
            mask = (0..<n).map { _ in rng.uniform() < rate ? 0 : keep }
        }
        return scaled(x)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        return mask.isEmpty ? dy : scaled(dy)
    }

    /// Each sample of `x` times its mask factor.
    private func scaled(_ x: Tensor) -> Tensor {
        var out = x.data
        let per = x.count / max(1, mask.count)
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<mask.count {
                let f = mask[i]
                for j in 0..<per { o[i * per + j] *= f }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    /// Per-sample factors of the last training forward (0 dropped, 1/(1−rate) kept).
    public var lastMask: [Float] { mask }
}
