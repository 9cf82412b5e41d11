import CohortAdapt
import CohortNN
import CohortTensor

/// The training a plan's `personalization` adds at a node: FedAvg-FT's fine-tuning with the
/// epoch chosen on the validation split, Ditto's personal model pulled toward the global one,
/// and FedRep's head-then-body rounds. Every choice reads the validation split only; test data
/// never reaches this type.
enum PersonalTraining {
    /// Ditto's pull λ/2·‖w − w_global‖² toward `global`'s current parameters (the received
    /// global model): the same term as FedProx's, on the personal model.
    static func dittoPull(global: Sequential, lambda: Float) -> L2SP {
        L2SP(reference: global.parameters, alpha: lambda)
    }

    /// What `fineTune` chose.
    struct FineTuneChoice {
        /// Epochs of fine-tuning kept (0: the model as given scored best on validation).
        var epoch: Int
        /// The kept model's validation accuracy (NaN without validation rows).
        var validationAccuracy: Double
    }

    /// FedAvg-FT: fine-tunes `model` in place on `train` for up to `epochs` epochs and leaves it
    /// holding the epoch (0 = as given) that scores best on `validation` (ties: the earlier
    /// epoch). BatchNorm statistics are re-estimated on the training inputs after every epoch,
    /// as the node does after local training. Without validation rows nothing can be chosen,
    /// and the model keeps all `epochs` epochs.
    static func fineTune(_ model: Sequential, train: LabelledData, validation: LabelledData, epochs: Int, learningRate: Float,
                         plan: TrainingPlan, seed: UInt64) throws -> FineTuneChoice {
        guard train.count > 0 else {
            return FineTuneChoice(epoch: 0, validationAccuracy: validation.count > 0 ? Double(Inference.accuracy(model, validation)) : .nan)
        }
        for p in model.parameters { p.isTrainable = plan.trains(p) }
        let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: learningRate, weightDecay: plan.weightDecay)],
                            momentum: plan.momentum)
        let trainer = Trainer(model: model, optimizer: optimizer, config: TrainingConfig(epochs: 1, batchSize: plan.batchSize, seed: seed))
        let scores = validation.count > 0
        var best = (epoch: 0, score: scores ? Double(Inference.accuracy(model, validation)) : .nan, state: model.stateDict())
        for epoch in 1...max(epochs, 1) {
            trainer.config.seed = seed &+ UInt64(epoch) &* 7_919
            _ = try trainer.fit(train)
            if train.count > 1 { AdaBN.adapt(model, inputs: train.inputs) }
            guard scores else { best = (epoch, .nan, []); continue }
            let score = Double(Inference.accuracy(model, validation))
            if score > best.score { best = (epoch, score, model.stateDict()) }
        }
        if scores { try model.load(Dictionary(uniqueKeysWithValues: best.state.map { ($0.name, $0.value) })) }
        return FineTuneChoice(epoch: best.epoch, validationAccuracy: best.score)
    }

    /// Ditto's personal step: trains `personal` in place on `train` for `epochs` epochs on the
    /// loss plus `dittoPull(global:lambda:)`, then re-estimates its BatchNorm statistics.
    /// Returns the last epoch's training loss.
    static func trainDitto(_ personal: Sequential, global: Sequential, train: LabelledData, lambda: Float, epochs: Int,
                           plan: TrainingPlan, seed: UInt64) throws -> Double {
        guard train.count > 0 else { return .nan }
        for p in personal.parameters { p.isTrainable = plan.trains(p) }
        let optimizer = SGD(groups: [ParameterGroup(parameters: personal.parameters, learningRate: plan.learningRate, weightDecay: plan.weightDecay)],
                            momentum: plan.momentum)
        let trainer = Trainer(model: personal, optimizer: optimizer,
                              config: TrainingConfig(epochs: epochs, batchSize: plan.batchSize, seed: seed, l2sp: dittoPull(global: global, lambda: lambda)))
        let loss = Double(try trainer.fit(train).epochs.last?.trainLoss ?? .nan)
        if train.count > 1 { AdaBN.adapt(personal, inputs: train.inputs) }
        return loss
    }

    /// FedRep's first phase: the personal tensors (`personal` names) alone train for `epochs`
    /// epochs with the shared ones frozen. The caller then trains the shared ones with the
    /// personal ones frozen.
    static func trainHead(_ model: Sequential, personal: Set<String>, train: LabelledData, epochs: Int, plan: TrainingPlan, seed: UInt64) throws {
        guard epochs > 0, train.count > 0 else { return }
        for p in model.parameters { p.isTrainable = plan.trains(p) && personal.contains(p.name) }
        let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: plan.learningRate, weightDecay: plan.weightDecay)],
                            momentum: plan.momentum)
        _ = try Trainer(model: model, optimizer: optimizer, config: TrainingConfig(epochs: epochs, batchSize: plan.batchSize, seed: seed)).fit(train)
    }
}
