import CohortNN
import CohortTensor

/// A model's outputs for many samples, computed in inference mode (no backward to follow) batch by batch.
public enum BatchPrediction {
    /// The outputs of `model` for every sample of `inputs` (`[N] + model.inputShape`), as
    /// `[N, outputs]` (the model's per-sample output flattened), in input order.
    ///
    /// - Parameter progress: called after each batch with the samples done and the total.
    public static func logits(_ model: Sequential, inputs: Tensor, batchSize: Int,
                              progress: ((_ done: Int, _ total: Int) -> Void)? = nil) -> Tensor {
        precondition(batchSize >= 1, "batch size must be at least 1")
        let n = inputs.rows, k = model.outputShape.reduce(1, *)
        var out = [Float](repeating: 0, count: n * k)
        for start in stride(from: 0, to: n, by: batchSize) {
            let end = min(start + batchSize, n)
            let y = model.forward(inputs.rows(start..<end), mode: .inference)
            out.replaceSubrange((start * k)..<(end * k), with: y.data)
            progress?(end, n)
        }
        return Tensor(shape: [n, k], data: out)
    }
}
