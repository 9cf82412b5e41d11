import CohortAdapt
import CohortNN
import CohortTensor
import Foundation

/// What a node does for its plan's `adaptation` section: the label-free step (AdaBN, TENT,
/// SHOT) on all of its inputs, labelled or not, and the negative-transfer guard on its
/// validation split. Keeps the guard's from-scratch model across rounds (the site's data does
/// not change, so it is trained once).
final class LocalAdaptation {
    let node: String
    let train: LabelledData
    let validation: LabelledData
    /// The training inputs and the unlabelled ones: what the label-free step sees.
    let inputs: Tensor
    private var scratch: (input: [Int], classes: Int, model: Sequential)?

    init(node: String, train: LabelledData, unlabelled: Tensor?, validation: LabelledData) {
        self.node = node
        self.train = train
        self.validation = validation
        let columns = train.count > 0 ? train.inputs.columns : unlabelled?.columns ?? train.inputs.columns
        inputs = Tensor(shape: [train.count + (unlabelled?.rows ?? 0), columns], data: train.inputs.data + (unlabelled?.data ?? []))
    }

    /// Whether this node runs the plan's label-free step.
    func applies(_ plan: TrainingPlan) -> Bool { plan.adaptation?.applies(labelledRows: train.count) ?? false }

    /// Whether the plan wants the guard (and this node can run it).
    func guards(_ plan: TrainingPlan) -> Bool { plan.adaptation?.negativeTransferGuard ?? false }

    /// Runs the label-free step on `model` in place; returns UPDATE / EVAL_RESULT metrics
    /// (`adaptation_rows`, prediction entropy and confidence before and after) and a log line.
    func adapt(_ model: Sequential, plan: TrainingPlan, round: Int) throws -> (metrics: [String: Double], line: String) {
        guard let step = plan.adaptation, applies(plan), let method = AdaptationMethod(rawValue: step.method) else { return ([:], "") }
        var settings = TargetAdaptation.Settings()
        settings.epochs = step.epochs
        settings.learningRate = step.learningRate
        settings.batchSize = step.batchSize
        settings.seed = plan.seed &+ UInt64(round) &* 104_729
        let empty = LabelledData(inputs: Tensor(shape: [0, inputs.columns]), labels: [])
        let s = try TargetAdaptation.run(model, method: method, target: inputs, support: empty, validation: empty, source: nil, settings: settings).summary
        let metrics = ["adaptation_rows": Double(s.targetRows), "adaptation_entropy_before": s.before.meanEntropy,
                       "adaptation_entropy_after": s.after.meanEntropy, "adaptation_confidence_after": s.after.meanConfidence,
                       "adaptation_changed_tensors": Double(s.changedTensors.count)]
        let line = "\(step.method) on \(s.targetRows) inputs (\(train.count) labelled): prediction entropy "
            + "\(Self.format(s.before.meanEntropy)) -> \(Self.format(s.after.meanEntropy))"
        return (metrics, line)
    }

    /// The guard: scores `incoming`, `adapted` and `personal` against the from-scratch model
    /// on the validation split (no test score reaches the choice). Returns the model to keep,
    /// metrics and a log line; nil model (with a `guard_skipped` metric) when the node has no
    /// labelled training or validation rows. `guard_winner`: 0 incoming, 1 adapted, 2 scratch,
    /// 3 personal.
    func guardChoice(incoming: Sequential, adapted: Sequential?, personal: Sequential? = nil, plan: TrainingPlan) throws
        -> (kept: Sequential?, metrics: [String: Double], line: String)
    {
        guard let step = plan.adaptation, step.negativeTransferGuard else { return (nil, [:], "") }
        guard train.count > 0, validation.count > 0 else {
            return (nil, ["guard_skipped": 1], "guard skipped: \(train.count) labelled training and \(validation.count) validation rows")
        }
        let classes = incoming.outputShape.reduce(1, *)
        if scratch == nil || scratch!.input != incoming.inputShape || scratch!.classes != classes {
            let model = try ScratchModel.make(inputShape: incoming.inputShape, classes: classes, seed: plan.seed &+ 17)
            var training = NegativeTransferGuard.ScratchTraining()
            training.epochs = step.guardEpochs
            training.seed = plan.seed
            try NegativeTransferGuard.trainScratch(model, on: train, training: training)
            scratch = (incoming.inputShape, classes, model)
        }
        let (kept, r) = NegativeTransferGuard.compare(validation: validation, incoming: incoming, adapted: adapted, personal: personal,
                                                      scratch: scratch!.model)
        let code: Double = switch r.winner { case .incoming: 0; case .adapted: 1; case .scratch: 2; case .personal: 3 }
        var metrics = ["guard_winner": code, "guard_incoming_val": Double(r.incomingScore), "guard_scratch_val": Double(r.scratchScore),
                       "guard_kept_val": Double(r.incomingScore + r.gainOverIncoming), "guard_margin": Double(r.margin),
                       "guard_gain_over_incoming": Double(r.gainOverIncoming), "guard_validation_rows": Double(r.validationCount)]
        if let a = r.adaptedScore { metrics["guard_adapted_val"] = Double(a) }
        if let p = r.personalScore { metrics["guard_personal_val"] = Double(p) }
        let line = "guard kept \(r.winner.rawValue) (validation accuracy: incoming \(Self.format(Double(r.incomingScore)))"
            + (r.adaptedScore.map { ", adapted \(Self.format(Double($0)))" } ?? "")
            + (r.personalScore.map { ", personal \(Self.format(Double($0)))" } ?? "") + ", scratch \(Self.format(Double(r.scratchScore)))"
            + String(format: "; %.1f points over the runner-up)", Double(r.margin) * 100)
        return (kept, metrics, line)
    }

    private static func format(_ x: Double) -> String { String(format: "%.3f", x) }
}

extension LocalAdaptation {
    /// The model a node evaluates at the end (EVALUATE): the site's `personal` model where the
    /// plan has one, else the received model adapted by the label-free step when it applies, or
    /// whichever of them the guard keeps (`incoming` is the guard's global candidate; nil: the
    /// received model). `received` is not changed.
    func finalModel(received: Sequential, incoming: Sequential? = nil, personal: Sequential? = nil, plan: TrainingPlan, round: Int) throws
        -> (model: Sequential, metrics: [String: Double], lines: [String])
    {
        var metrics: [String: Double] = [:], lines: [String] = []
        var adapted: Sequential?
        if applies(plan) {
            let copy = try received.copy()
            let step = try adapt(copy, plan: plan, round: round)
            metrics.merge(step.metrics) { a, _ in a }
            lines.append(step.line)
            adapted = copy
        }
        var model = personal ?? adapted ?? received
        if guards(plan) {
            let g = try guardChoice(incoming: incoming ?? received, adapted: adapted, personal: personal, plan: plan)
            metrics.merge(g.metrics) { a, _ in a }
            lines.append(g.line)
            if let kept = g.kept { model = kept }
        }
        return (model, metrics, lines)
    }
}
