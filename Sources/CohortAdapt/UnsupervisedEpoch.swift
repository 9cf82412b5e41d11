import CohortNN
import CohortTensor

/// One epoch of adaptation on target batches with a loss computed from the model's own
/// outputs (entropy, information maximisation, pseudo-labels): forward in training mode, the
/// loss's logit gradient back through the model, one optimizer step per batch.
enum UnsupervisedEpoch {
    /// Runs the epoch; returns the sample-weighted mean loss. A trailing one-row batch joins the
    /// batch before it (`LabelledData.trainingBatches`); a lone single-row batch (one row in
    /// all) is skipped (BatchNorm needs two).
    static func run(_ model: Sequential, optimizer: Optimizer, data: LabelledData, batchSize: Int, rng: inout SeededRandom?,
                    loss: (_ logits: Tensor, _ batch: LabelledData) -> LossResult) -> Float {
        var total: Float = 0
        var count = 0
        for batch in data.trainingBatches(of: batchSize, rng: &rng) where batch.count > 1 {
            optimizer.zeroGrad()
            let result = loss(model.forward(batch.inputs, mode: .training), batch)
            model.backward(result.gradient)
            optimizer.step()
            total += result.value * Float(batch.count)
            count += batch.count
        }
        return count > 0 ? total / Float(count) : 0
    }
}
