import CohortNN
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// What a domain term adds at one step: its unweighted value and the (already weighted)
/// gradient with respect to the features of the whole paired batch.
struct DomainTerm {
    var value: Float
    var featureGradient: Tensor
    var lambda: Float?
}

/// The batch-pairing loop shared by DANN, Deep CORAL and MMD training: each labelled source
/// batch is paired with the next target batch (target batches cycle, reshuffled each epoch);
/// both go through the feature extractor in one forward pass (rows `0..<ns` source, then
/// target); the head's cross-entropy on the source rows and the domain term on all rows are
/// back-propagated into the features together, then one Adam step updates everything.
enum DomainTrainingLoop {
    static func run(features: Sequential, head: Sequential, extraParameters: [Parameter] = [],
                    source: LabelledData, target: Tensor, config: DomainTrainingConfig,
                    domainTerm: (_ features: Tensor, _ sourceCount: Int, _ progress: Float) throws -> DomainTerm) throws -> [DomainTrainingRecord] {
        try validate(features: features, head: head, source: source, target: target, config: config)
        let optimizer = Adam(groups: [ParameterGroup(parameters: features.parameters + head.parameters + extraParameters,
                                                     learningRate: config.learningRate)])
        let targetData = LabelledData(inputs: target, labels: [Int](repeating: 0, count: target.rows))
        let columns = features.inputShape.reduce(1, *)
        var rng: SeededRandom? = SeededRandom(seed: config.seed)
        let stepsPerEpoch = LabelledData.trainingBatchCount(rows: source.count, size: config.batchSize)
        let totalSteps = Float(max(1, config.epochs * stepsPerEpoch))
        var step = 0
        var records: [DomainTrainingRecord] = []
        for epoch in 0..<config.epochs {
            let sourceBatches = source.trainingBatches(of: config.batchSize, rng: &rng).filter { $0.count > 1 }
            let targetBatches = targetData.trainingBatches(of: config.batchSize, rng: &rng).filter { $0.count > 1 }
            var labelSum: Float = 0, domainSum: Float = 0, correct = 0, seen = 0, steps = 0
            var lambda: Float?
            for (i, batch) in sourceBatches.enumerated() {
                let t = targetBatches[i % targetBatches.count].inputs
                let ns = batch.count, nt = t.rows
                let progress = Float(step) / totalSteps
                optimizer.zeroGrad()
                let x = Tensor(shape: [ns + nt, columns], data: batch.inputs.data + t.data)
                let f = features.forward(x, mode: .training)
                let logits = head.forward(f.rows(0..<ns), mode: .training)
                let label = Loss.softmaxCrossEntropy(logits: logits, labels: batch.labels)
                guard label.value.isFinite else {
                    throw DomainTrainingError("label loss became \(label.value) at epoch \(epoch), step \(step): lower the learning rate or the domain weight")
                }
                let fromHead = head.backward(label.gradient, needsInputGradient: true)!
                let term = try domainTerm(f, ns, progress)
                guard term.value.isFinite else {
                    throw DomainTrainingError("domain loss became \(term.value) at epoch \(epoch), step \(step): lower the learning rate or the domain weight")
                }
                var g = term.featureGradient.reshaped(f.shape)
                for k in 0..<fromHead.count { g.data[k] += fromHead.data[k] }
                features.backward(g)
                let scale = config.annealLearningRate ? 1 / powf(1 + 10 * progress, 0.75) : 1
                optimizer.step(learningRateScale: scale)
                labelSum += label.value * Float(ns)
                domainSum += term.value
                correct += zip(logits.argmaxRows(), batch.labels).filter { $0 == $1 }.count
                seen += ns
                steps += 1
                step += 1
                lambda = term.lambda
            }
            records.append(DomainTrainingRecord(epoch: epoch, labelLoss: labelSum / Float(max(seen, 1)),
                                                domainLoss: domainSum / Float(max(steps, 1)),
                                                sourceAccuracy: Float(correct) / Float(max(seen, 1)), lambda: lambda))
        }
        return records
    }

    static func validate(features: Sequential, head: Sequential, source: LabelledData, target: Tensor,
                         config: DomainTrainingConfig) throws {
        guard config.epochs >= 0, config.batchSize > 1 else {
            throw DomainTrainingError("need epochs ≥ 0 and batchSize ≥ 2, got \(config.epochs) and \(config.batchSize)")
        }
        guard config.learningRate.isFinite, config.learningRate >= 0, config.weight.isFinite, config.weight >= 0 else {
            throw DomainTrainingError("learning rate and domain weight must be finite and ≥ 0, got \(config.learningRate) and \(config.weight)")
        }
        let columns = features.inputShape.reduce(1, *)
        guard source.count > 1, source.inputs.columns == columns else {
            throw DomainTrainingError("source needs at least 2 rows of \(columns) values (feature extractor input \(features.inputShape)), got \(source.count) rows of \(source.inputs.columns)")
        }
        guard target.rows > 1, target.columns == columns else {
            throw DomainTrainingError("target needs at least 2 rows of \(columns) values (feature extractor input \(features.inputShape)), got \(target.rows) rows of \(target.columns)")
        }
        guard features.outputShape.reduce(1, *) == head.inputShape.reduce(1, *) else {
            throw DomainTrainingError("feature extractor outputs \(features.outputShape) but the head expects \(head.inputShape)")
        }
        let classes = head.outputShape.reduce(1, *)
        if let row = source.labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw DomainTrainingError("source label \(source.labels[row]) at row \(row) is outside the head's \(classes) classes")
        }
    }
}
