import CohortNN
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// Losses on a model's own predictions, for adaptation without target labels.
public enum PredictionLoss {
    /// Mean Shannon entropy of the softmax predictions (TENT, Wang et al. 2021) and its
    /// gradient with respect to the logits: `∂H/∂z_k = −p_k (log p_k + H)` per row.
    public static func entropy(logits: Tensor) -> LossResult {
        precondition(logits.rank == 2, "entropy needs logits [n, classes], got \(logits.shape)")
        let n = logits.shape[0], c = logits.shape[1]
        let p = logits.softmaxRows()
        var grad = [Float](repeating: 0, count: n * c)
        var total: Float = 0
        for i in 0..<n {
            var h: Float = 0
            for j in 0..<c { let v = p.data[i * c + j]; if v > 0 { h -= v * logf(v) } }
            total += h
            for j in 0..<c {
                let v = p.data[i * c + j]
                grad[i * c + j] = v > 0 ? -v * (logf(v) + h) / Float(n) : 0
            }
        }
        return LossResult(value: total / Float(n), gradient: Tensor(shape: logits.shape, data: grad))
    }

    /// Information maximisation (SHOT, Liang et al. 2020): mean per-sample entropy minus the
    /// entropy of the mean prediction, `mean H(p_i) − H(p̄)`: confident predictions that still
    /// use every class. Gradient of the second term: `(1/n) p_ik (log p̄_k − Σ_j p_ij log p̄_j)`.
    public static func informationMaximization(logits: Tensor, diversityWeight: Float = 1) -> LossResult {
        var result = entropy(logits: logits)
        let n = logits.shape[0], c = logits.shape[1]
        let p = logits.softmaxRows()
        var mean = p.sumRows()
        mean.scale(by: 1 / Float(n))
        var hMean: Float = 0
        let logMean = mean.data.map { logf(max($0, 1e-12)) }
        for j in 0..<c { hMean -= mean.data[j] * logMean[j] }
        result.value -= diversityWeight * hMean
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<c { s += p.data[i * c + j] * logMean[j] }
            for k in 0..<c {
                result.gradient.data[i * c + k] += diversityWeight * p.data[i * c + k] * (logMean[k] - s) / Float(n)
            }
        }
        return result
    }
}
