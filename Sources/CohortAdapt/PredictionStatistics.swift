import CohortNN
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// What a model's predictions on unlabelled rows look like: how uncertain, how confident, and
/// how they spread over the classes. Adaptation without labels is judged by these when no
/// labelled rows exist.
public struct PredictionStatistics: Codable, Sendable, Equatable {
    /// Mean Shannon entropy of the softmax predictions (nats).
    public var meanEntropy: Double
    /// Mean probability of the predicted class.
    public var meanConfidence: Double
    /// Fraction of rows predicted as each class.
    public var predictedFractions: [Double]
    /// Rows the statistics cover.
    public var rows: Int

    /// The statistics of `model`'s predictions (evaluation mode) on `inputs`.
    public init(model: Sequential, inputs: Tensor) {
        let p = Inference.probabilities(model, inputs)
        let n = inputs.rows, c = p.rows > 0 ? p.columns : model.outputShape.reduce(1, *)
        var entropy = 0.0, confidence = 0.0
        var counts = [Int](repeating: 0, count: c)
        for i in 0..<n {
            var best = 0
            for j in 0..<c {
                let v = p.data[i * c + j]
                if v > 0 { entropy -= Double(v * logf(v)) }
                if v > p.data[i * c + best] { best = j }
            }
            confidence += Double(p.data[i * c + best])
            counts[best] += 1
        }
        let scale = n > 0 ? 1 / Double(n) : .nan
        meanEntropy = entropy * scale
        meanConfidence = confidence * scale
        predictedFractions = counts.map { Double($0) * scale }
        rows = n
    }
}
