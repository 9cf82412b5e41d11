import CohortNN
import CohortTensor

/// AdaBN (Li et al. 2017): re-estimate every BatchNorm layer's running statistics on target
/// data, with no labels and no gradient step. The learned weights stay; only the normalisation
/// moves to the new scanner or population.
public enum AdaBN {
    /// Replaces the running statistics of every BatchNorm in `model` with the cumulative
    /// average over `inputs` (forward passes in training mode, dropout and drop-path held off). Returns how
    /// many BatchNorm layers were adapted.
    @discardableResult
    public static func adapt(_ model: Sequential, inputs: Tensor, batchSize: Int = 128) -> Int {
        precondition(batchSize > 1, "AdaBN needs batches of at least 2 samples")
        let norms = model.layers.compactMap { $0 as? BatchNorm }
        let drops = model.layers.compactMap { $0 as? Dropout }
        let paths = model.layers.compactMap { $0 as? DropPath }
        guard !norms.isEmpty, inputs.rows > 1 else { return 0 }
        for bn in norms {
            bn.runningMean.value.fill(0)
            bn.runningVar.value.fill(1)
            bn.cumulativeBatches = 0
        }
        for d in drops { d.isActive = false }
        for d in paths { d.isActive = false }
        defer {
            for d in paths { d.isActive = true }
            for bn in norms { bn.cumulativeBatches = nil }
            for d in drops { d.isActive = true }
        }
        var start = 0
        while start < inputs.rows {
            var end = min(start + batchSize, inputs.rows)
            if inputs.rows - end == 1 { end += 1 } // never leave a single-sample last batch
            _ = model.forward(inputs.rows(start..<end), mode: .training)
            start = end
        }
        return norms.count
    }
}
