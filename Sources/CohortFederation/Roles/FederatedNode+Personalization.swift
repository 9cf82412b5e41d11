import CohortNN
import CohortTensor

extension FederatedNode {
    /// The round's personal training beside the global update (`plan.personalization`), run on
    /// `received` (the model as received, before local training) without changing it: Ditto's
    /// personal step (kept in `personalState`), and with `fineTuneEveryRound` FedAvg-FT's
    /// fine-tuning of a copy, for the report. Returns UPDATE metrics and a log line.
    func trainPersonal(received: Sequential, plan: TrainingPlan, round: Int) throws -> (metrics: [String: Double], line: String) {
        guard let p = plan.personalization, config.train.count > 0 else { return ([:], "") }
        let seed = plan.seed &+ UInt64(round) &* 1_000_003 &+ 31
        switch p.method {
        case "ditto":
            let personal = try received.copy()
            if !personalState.isEmpty { try personal.load(personalState) }
            let loss = try PersonalTraining.trainDitto(personal, global: received, train: config.train, lambda: p.lambda,
                                                       epochs: p.personalEpochs ?? plan.localEpochs, plan: plan, seed: seed)
            personalState = Dictionary(uniqueKeysWithValues: personal.stateDict().map { ($0.name, $0.value) })
            let val = config.validation.count > 0 ? Double(Inference.accuracy(personal, config.validation)) : .nan
            return (["personal_train_loss": loss, "personal_val_accuracy": val],
                    String(format: "ditto personal model (λ = %g): validation accuracy %.3f", p.lambda, val))
        case "fedavg-ft" where p.fineTuneEveryRound:
            let tuned = try received.copy()
            let choice = try fineTune(tuned, plan: plan, seed: seed)
            var metrics = ["ft_epoch": Double(choice.epoch), "ft_val_accuracy": choice.validationAccuracy]
            if let test = config.test, test.count > 0 { metrics["ft_test_accuracy"] = Double(Inference.accuracy(tuned, test)) }
            return (metrics, String(format: "fine-tuned copy: epoch %d chosen on validation (accuracy %.3f)", choice.epoch, choice.validationAccuracy))
        default:
            return ([:], "")
        }
    }

    /// FedAvg-FT's fine-tuning of `model` in place on this site's labels, the epoch chosen on
    /// its validation split.
    func fineTune(_ model: Sequential, plan: TrainingPlan, seed: UInt64) throws -> PersonalTraining.FineTuneChoice {
        let p = plan.personalization ?? PersonalizationPlan()
        return try PersonalTraining.fineTune(model, train: config.train, validation: config.validation, epochs: p.fineTuneEpochs,
                                             learningRate: p.fineTuneLearningRate ?? plan.learningRate, plan: plan, seed: seed)
    }

    /// The site's personal model for the final evaluation, a model apart from `received`
    /// except under FedPer / FedRep, where `received` already holds the site's personal
    /// tensors: Ditto's personal model, the fine-tuned global model (FedAvg-FT), or nil when
    /// the plan has none (or Ditto never trained one here). Chosen on validation only.
    func personalModel(received: Sequential, plan: TrainingPlan, round: Int) throws -> (model: Sequential?, metrics: [String: Double], line: String) {
        guard let p = plan.personalization else { return (nil, [:], "") }
        switch p.method {
        case "ditto":
            guard !personalState.isEmpty else { return (nil, [:], "ditto: no personal model trained here (no labelled rows)") }
            let personal = try received.copy()
            try personal.load(personalState)
            return (personal, [:], "ditto personal model")
        case "fedavg-ft":
            let tuned = try received.copy()
            let choice = try fineTune(tuned, plan: plan, seed: plan.seed &+ UInt64(round) &* 1_000_003 &+ 47)
            return (tuned, ["ft_epoch": Double(choice.epoch)],
                    String(format: "fine-tuned the global model: epoch %d of %d chosen on validation (accuracy %.3f)",
                           choice.epoch, p.fineTuneEpochs, choice.validationAccuracy))
        default:
            return (received, [:], "\(p.method): shared layers from the federation, \(p.personalPrefixes.joined(separator: ", ")) this site's own")
        }
    }
}
