import CohortNN
import CohortTensor

/// One supervised (pre-)training or fine-tuning run: SGD with momentum over the labelled
/// data, optional frozen layers and L2-SP toward the starting weights, and checkpoint
/// selection on validation accuracy. Used by `cohort pretrain`, and by the simulation's
/// local-only and pooled arms.
public enum FineTuning {
    /// How a run trains.
    public struct Settings: Codable, Sendable, Equatable {
        public var epochs = 10
        public var batchSize = 32
        public var learningRate: Float = 0.05
        public var momentum: Float = 0.9
        public var weightDecay: Float = 0
        /// Cosine decay of the learning rate over the run (instead of a constant rate).
        public var cosine = true
        /// Name prefixes of the tensors that train (nil: all).
        public var trainablePrefixes: [String]? = nil
        /// L2-SP strength toward the starting weights (0: off).
        public var l2spAlpha: Float = 0
        /// Stop after this many epochs without a better validation accuracy (nil: run every
        /// epoch). Either way the best epoch's weights are kept when there is validation data.
        public var patience: Int? = nil
        public var seed: UInt64 = 0
        /// Before each validation and at the end, re-estimate BatchNorm running statistics
        /// over the training inputs with the current weights ("precise BN"), so evaluation
        /// does not use statistics that lag weights which moved during the epoch.
        public var recalibrateBatchNorm = true
        /// The loss for regression targets (nil: MSE; classification uses cross-entropy).
        public var regressionLoss: RegressionLoss? = nil
        public init() {}
    }

    /// Refuses settings the optimizer or trainer could not take (they may come from a JSON file).
    static func check(_ s: Settings) throws {
        guard s.batchSize >= 1 else { throw TrainingError("batch size must be ≥ 1, got \(s.batchSize)") }
        guard s.learningRate >= 0, s.learningRate.isFinite else { throw TrainingError("learning rate must be finite and ≥ 0, got \(s.learningRate)") }
        guard s.momentum >= 0, s.momentum < 1 else { throw TrainingError("momentum must be in [0, 1), got \(s.momentum)") }
        guard s.weightDecay >= 0, s.weightDecay.isFinite else { throw TrainingError("weight decay must be finite and ≥ 0, got \(s.weightDecay)") }
        guard s.l2spAlpha >= 0, s.l2spAlpha.isFinite else { throw TrainingError("L2-SP strength must be finite and ≥ 0, got \(s.l2spAlpha)") }
        if let p = s.patience, p < 1 { throw TrainingError("patience must be ≥ 1, got \(p)") }
    }

    /// Trains `model` in place and returns the history; with validation data the model ends
    /// with the weights of its best validation epoch.
    public static func run(_ model: Sequential, train: LabelledData, validation: LabelledData?, settings: Settings,
                           progress: (EpochRecord) -> Void = { _ in }) throws -> TrainingHistory {
        try run(model, source: train, calibration: train.inputs, validation: validation, settings: settings, progress: progress)
    }

    /// The same run reading training batches from `source` (e.g. images decoded per batch);
    /// BatchNorm recalibration uses `calibration` (a sample of the training inputs) instead of
    /// the whole training set.
    public static func run(_ model: Sequential, source train: some BatchSource, calibration: Tensor, validation: LabelledData?,
                           settings: Settings, progress: (EpochRecord) -> Void = { _ in }) throws -> TrainingHistory {
        guard settings.epochs >= 1 else { throw TrainingError("epochs must be ≥ 1, got \(settings.epochs)") }
        try check(settings)
        if let prefixes = settings.trainablePrefixes {
            for p in model.parameters { p.isTrainable = p.isAdapter || prefixes.contains { Sequential.name(p.name, hasPrefix: $0) } }
            guard !model.trainableParameters.isEmpty else {
                throw TrainingError("no parameter matches the trainable prefixes \(prefixes) (names look like '\(model.parameters.first?.name ?? "?")')")
            }
        }
        let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: settings.learningRate,
                                                    weightDecay: settings.weightDecay)], momentum: settings.momentum)
        let steps = settings.epochs * LabelledData.trainingBatchCount(rows: train.count, size: settings.batchSize)
        var config = TrainingConfig(epochs: settings.epochs, batchSize: settings.batchSize, seed: settings.seed,
                                    regressionLoss: settings.regressionLoss ?? .mse)
        if settings.cosine { config.schedule = .cosine(total: max(steps, 1), floor: 0.05) }
        if settings.l2spAlpha > 0 { config.l2sp = L2SP(reference: model.parameters, alpha: settings.l2spAlpha) }
        let hasValidation = (validation?.count ?? 0) > 0
        if hasValidation { config.earlyStoppingPatience = settings.patience ?? settings.epochs }
        let trainer = Trainer(model: model, optimizer: optimizer, config: config)
        if settings.recalibrateBatchNorm {
            trainer.validationMetric = { model, data in
                AdaBN.adapt(model, inputs: calibration)
                return Inference.score(model, data)
            }
        }
        let history: TrainingHistory
        if let data = train as? LabelledData {
            history = try trainer.fit(data, validation: hasValidation ? validation : nil, progress: progress)
        } else {
            history = try trainer.fit(source: train, validation: hasValidation ? validation : nil, progress: progress)
        }
        // With validation, the restored best state carries the statistics computed for it.
        if settings.recalibrateBatchNorm && !hasValidation { AdaBN.adapt(model, inputs: calibration) }
        return history
    }
}
