import CohortNN
import CohortTensor

/// TENT (Wang et al. 2021): test-time adaptation by minimising the entropy of the model's
/// predictions on unlabelled target batches, updating only the BatchNorm affine parameters
/// (with BatchNorm normalising by target batch statistics). Every other weight stays fixed.
public enum TENT {
    /// Adapts `model` in place; returns the mean prediction entropy of each epoch. The
    /// trainable flags are restored afterwards.
    @discardableResult
    public static func adapt(_ model: Sequential, inputs: Tensor, epochs: Int = 1, batchSize: Int = 64,
                             learningRate: Float = 1e-3, seed: UInt64 = 0) -> [Float] {
        precondition(epochs >= 0 && batchSize > 1, "TENT needs epochs ≥ 0 and batches of at least 2")
        let saved = model.parameters.map(\.isTrainable)
        defer { for (p, t) in zip(model.parameters, saved) { p.isTrainable = t } }
        for p in model.parameters { p.isTrainable = p.isNormalization }
        let affine = model.parameters.filter(\.isNormalization)
        guard !affine.isEmpty, inputs.rows > 1 else { return [] }
        let optimizer = Adam(groups: [ParameterGroup(parameters: affine, learningRate: learningRate)])
        let data = LabelledData(inputs: inputs, labels: [Int](repeating: 0, count: inputs.rows))
        var rng: SeededRandom? = SeededRandom(seed: seed)
        var history: [Float] = []
        for _ in 0..<epochs {
            history.append(UnsupervisedEpoch.run(model, optimizer: optimizer, data: data, batchSize: batchSize, rng: &rng) { logits, _ in
                PredictionLoss.entropy(logits: logits)
            })
        }
        return history
    }
}
