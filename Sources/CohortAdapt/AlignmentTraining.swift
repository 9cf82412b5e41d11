import CohortNN
import CohortTensor

/// Source+target training with a statistic-matching penalty on the features: Deep CORAL
/// (Sun & Saenko 2016) or multi-kernel MMD (Long et al. 2015). The loss is the source
/// cross-entropy plus `weight ×` the alignment loss between the source and target rows of
/// each paired batch; its gradients flow back through the feature extractor.
public enum AlignmentTraining {
    /// Which alignment loss to add.
    public enum Method: String, Codable, Sendable {
        /// `AlignmentLoss.coral`: match feature covariances.
        case coral
        /// `AlignmentLoss.mmd` with the median-heuristic bandwidths.
        case mmd
    }

    /// Trains `features` and `head` in place; returns one record per epoch.
    @discardableResult
    public static func train(features: Sequential, head: Sequential, source: LabelledData, target: Tensor, method: Method,
                             config: DomainTrainingConfig = DomainTrainingConfig()) throws -> [DomainTrainingRecord] {
        try DomainTrainingLoop.run(features: features, head: head, source: source, target: target, config: config) { f, ns, _ in
            let flat = f.reshaped([f.rows, f.columns])
            let s = flat.rows(0..<ns), t = flat.rows(ns..<flat.rows)
            let r = method == .coral ? AlignmentLoss.coral(source: s, target: t) : AlignmentLoss.mmd(source: s, target: t)
            var g = Tensor(shape: flat.shape, data: r.sourceGradient.data + r.targetGradient.data)
            g.scale(by: config.weight)
            return DomainTerm(value: r.value, featureGradient: g, lambda: nil)
        }
    }
}
