import CohortTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A loss value with its gradient with respect to the model output.
public struct LossResult {
    public var value: Float
    public var gradient: Tensor

    /// A loss value and its gradient.
    public init(value: Float, gradient: Tensor) {
        self.value = value
        self.gradient = gradient
    }
}

/// Loss functions. Each returns the batch-mean loss and `∂loss/∂output`.
public enum Loss {
    /// Softmax cross-entropy on logits `[n, classes]` with integer labels.
    ///
    /// With `classWeights`, sample `i` counts `w[yᵢ]` and the mean divides by `Σ w[yᵢ]`; with
    /// `labelSmoothing` ε the target is `(1−ε)·onehot + ε/classes`, the smoothing term weighted
    /// per class as PyTorch's `cross_entropy(weight:, label_smoothing:)` does.
    public static func softmaxCrossEntropy(logits: Tensor, labels: [Int], classWeights: [Float]? = nil,
                                           labelSmoothing: Float = 0) -> LossResult {
        precondition(logits.rank == 2, "cross-entropy needs logits [n, classes], got \(logits.shape)")
        let n = logits.shape[0], c = logits.shape[1]
        precondition(labels.count == n, "cross-entropy: \(labels.count) labels for \(n) rows")
        precondition(classWeights == nil || classWeights!.count == c, "cross-entropy: \(classWeights?.count ?? 0) class weights for \(c) classes")
        precondition(labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing must be in [0, 1), got \(labelSmoothing)")
        let w = classWeights ?? [Float](repeating: 1, count: c)
        var grad = [Float](repeating: 0, count: n * c)
        var total = 0.0
        var norm = 0.0
        let eps = labelSmoothing
        logits.data.withUnsafeBufferPointer { z in
            for i in 0..<n {
                let y = labels[i]
                precondition(y >= 0 && y < c, "label \(y) at row \(i) outside 0..<\(c)")
                let row = z.baseAddress! + i * c
                var m = -Float.infinity
                for j in 0..<c { m = max(m, row[j]) }
                var s: Float = 0
                for j in 0..<c { s += expf(row[j] - m) }
                let logSum = m + logf(s)
                // Target weights a_j; loss_i = -Σ a_j log p_j; ∂/∂z_j = p_j Σa − a_j.
                var sumA: Float = 0
                var loss: Float = 0
                for j in 0..<c {
                    let a = (j == y ? (1 - eps) * w[y] : 0) + eps * w[j] / Float(c)
                    sumA += a
                    loss -= a * (row[j] - logSum)
                }
                for j in 0..<c {
                    let a = (j == y ? (1 - eps) * w[y] : 0) + eps * w[j] / Float(c)
                    grad[i * c + j] = expf(row[j] - logSum) * sumA - a
                }
                total += Double(loss)
                norm += Double(w[y])
            }
        }
        let inv = norm > 0 ? Float(1 / norm) : 0
        for i in 0..<grad.count { grad[i] *= inv }
        return LossResult(value: Float(total) * inv, gradient: Tensor(shape: logits.shape, data: grad))
    }

    /// Binary cross-entropy on logits with targets in [0, 1] (same shape), stable for large
    /// |logit|; `positiveWeight` scales the positive term as PyTorch's `pos_weight`.
    public static func binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor, positiveWeight: Float = 1) -> LossResult {
        precondition(logits.count == targets.count, "BCE: \(logits.count) logits for \(targets.count) targets")
        let n = Float(max(logits.count, 1))
        var grad = [Float](repeating: 0, count: logits.count)
        var total = 0.0
        for i in 0..<logits.count {
            let z = logits.data[i], t = targets.data[i]
            // log σ(z) = −softplus(−z); log(1−σ(z)) = −softplus(z)
            let spNeg = max(-z, 0) + log1pf(expf(-abs(z)))
            let spPos = max(z, 0) + log1pf(expf(-abs(z)))
            total += Double(positiveWeight * t * spNeg + (1 - t) * spPos)
            let sig = 1 / (1 + expf(-z))
            grad[i] = (positiveWeight * t * (sig - 1) + (1 - t) * sig) / n
        }
        return LossResult(value: Float(total) / n, gradient: Tensor(shape: logits.shape, data: grad))
    }

    /// Mean squared error.
    public static func meanSquaredError(output: Tensor, target: Tensor) -> LossResult {
        precondition(output.shape == target.shape, "MSE: output \(output.shape) vs target \(target.shape)")
        let n = Float(max(output.count, 1))
        let diff = output - target
        return LossResult(value: diff.squaredNorm() / n, gradient: diff * (2 / n))
    }
}
