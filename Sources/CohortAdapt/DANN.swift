import CohortNN
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// Domain-adversarial training (DANN, Ganin et al. 2016). A domain classifier, whose first
/// layer is a `gradientreversal` layer, learns to tell source features from target features;
/// the reversed gradient pushes the feature extractor towards features it cannot tell apart,
/// while the label head keeps them useful on the labelled source.
public enum DANN {
    /// The paper's reversal schedule `λ_p = 2 / (1 + exp(−γp)) − 1` over training progress
    /// `p ∈ [0, 1]`: 0 at the start (the domain classifier first learns), near 1 at the end.
    public static func lambda(progress: Float, gamma: Float = 10) -> Float {
        2 / (1 + expf(-gamma * progress)) - 1
    }

    /// Trains `features`, `head` and `domainClassifier` in place on labelled `source` and
    /// unlabelled `target` rows; sets the reversal layer's `lambda` from `lambda(progress:)`
    /// each step (it keeps the last value). The domain classifier outputs 2 logits
    /// (cross-entropy, source = 0, target = 1) or 1 logit (binary cross-entropy, target = 1).
    @discardableResult
    public static func train(features: Sequential, head: Sequential, domainClassifier: Sequential,
                             source: LabelledData, target: Tensor,
                             config: DomainTrainingConfig = DomainTrainingConfig()) throws -> [DomainTrainingRecord] {
        guard let reversal = domainClassifier.layers.first as? GradientReversal else {
            let first = domainClassifier.layers.first.map { "'\($0.name)' (\($0.spec.kind.rawValue))" } ?? "nothing"
            throw DomainTrainingError("the domain classifier must start with a gradientreversal layer, it starts with \(first)")
        }
        guard domainClassifier.inputShape.reduce(1, *) == features.outputShape.reduce(1, *) else {
            throw DomainTrainingError("domain classifier expects \(domainClassifier.inputShape) but the features are \(features.outputShape)")
        }
        let outputs = domainClassifier.outputShape.reduce(1, *)
        guard outputs == 1 || outputs == 2 else {
            throw DomainTrainingError("the domain classifier must output 1 logit (BCE) or 2 logits (cross-entropy), it outputs \(outputs)")
        }
        return try DomainTrainingLoop.run(features: features, head: head, extraParameters: domainClassifier.parameters,
                                          source: source, target: target, config: config) { f, ns, progress in
            let n = f.rows
            reversal.lambda = lambda(progress: progress)
            let logits = domainClassifier.forward(f.reshaped([n, f.columns]), mode: .training)
            var loss: LossResult
            if outputs == 2 {
                loss = Loss.softmaxCrossEntropy(logits: logits, labels: (0..<n).map { $0 < ns ? 0 : 1 })
            } else {
                let targets = Tensor(shape: logits.shape, data: (0..<n).map { $0 < ns ? 0 : 1 })
                loss = Loss.binaryCrossEntropyWithLogits(logits: logits, targets: targets)
            }
            loss.gradient.scale(by: config.weight)
            let g = domainClassifier.backward(loss.gradient, needsInputGradient: true)!
            return DomainTerm(value: loss.value, featureGradient: g, lambda: reversal.lambda)
        }
    }
}
