import CohortTensor

/// What a training run does each epoch.
public struct TrainingConfig {
    public var epochs: Int
    /// Rows per optimizer step. A trailing batch of one row joins the batch before it
    /// (`LabelledData.trainingBatches`), so that batch holds `batchSize + 1` rows. `Trainer.fit`
    /// refuses a batch size below 1, and a batch size of 1 or a single training row when the
    /// model has a BatchNorm layer (`BatchStatisticsError`).
    public var batchSize: Int
    /// Seeds the shuffling.
    public var seed: UInt64
    /// Cross-entropy class weights (nil: equal).
    public var classWeights: [Float]?
    public var labelSmoothing: Float
    /// Multiplier on every group's learning rate, by optimizer step.
    public var schedule: LearningRateSchedule
    /// Pull toward pre-trained weights, if any.
    public var l2sp: L2SP?
    /// Unfreeze blocks from the top down as epochs pass, if set.
    public var unfreezing: GradualUnfreezing?
    /// Stop after this many epochs without validation improvement and restore the best epoch's
    /// weights (needs validation data).
    public var earlyStoppingPatience: Int?
    /// The loss for data with regression targets (class labels use cross-entropy).
    public var regressionLoss: RegressionLoss = .mse

    /// A plain configuration: shuffled mini-batches, constant learning rate. `Trainer.fit`
    /// checks the values (epochs ≥ 0, batch size ≥ 1).
    public init(epochs: Int, batchSize: Int, seed: UInt64 = 0, classWeights: [Float]? = nil, labelSmoothing: Float = 0,
                schedule: LearningRateSchedule = .constant, l2sp: L2SP? = nil, unfreezing: GradualUnfreezing? = nil,
                earlyStoppingPatience: Int? = nil, regressionLoss: RegressionLoss = .mse) {
        self.epochs = epochs; self.batchSize = batchSize; self.seed = seed
        self.classWeights = classWeights; self.labelSmoothing = labelSmoothing
        self.schedule = schedule; self.l2sp = l2sp; self.unfreezing = unfreezing
        self.earlyStoppingPatience = earlyStoppingPatience
        self.regressionLoss = regressionLoss
    }
}

/// One epoch of a training run, as reported to progress callbacks and kept in the history.
public struct EpochRecord: Codable, Sendable {
    public var epoch: Int
    public var trainLoss: Float
    public var trainAccuracy: Float
    public var validationScore: Float?
    public var trainableParameters: Int
    public var seconds: Double
}

/// The outcome of `Trainer.fit`.
public struct TrainingHistory: Codable, Sendable {
    public var epochs: [EpochRecord]
    /// Epoch whose weights the model holds at the end (the best on validation when early
    /// stopping was on, else the last).
    public var selectedEpoch: Int
    public var stoppedEarly: Bool
}

/// A training failure with a reason a user can act on.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Mini-batch training of a classifier with the transfer-learning controls applied each step.
public final class Trainer {
    public let model: Sequential
    public let optimizer: Optimizer
    public var config: TrainingConfig
    /// Validation score (higher is better); accuracy (R² for regression) unless replaced.
    public var validationMetric: (Sequential, LabelledData) -> Float = Inference.score
    private var stepCount = 0
    /// Seconds of every optimizer step's parts so far, in order (what benchmarks report).
    public private(set) var stepTimings: [StepTiming] = []
    /// Called after every optimizer step with its index (from 0) and timing.
    public var onStep: ((Int, StepTiming) -> Void)?

    /// One optimizer step's seconds: the optimizer's `zeroGrad` (with momentum kept in the
    /// gradient buffers, a pass over them), forward and backward with any L2-SP term, and
    /// the optimizer's update.
    public struct StepTiming: Sendable, Equatable {
        public var zeroGrad: Double
        public var forwardBackward: Double
        public var update: Double
    }

    /// A trainer updating `model` with `optimizer`.
    public init(model: Sequential, optimizer: Optimizer, config: TrainingConfig) {
        self.model = model
        self.optimizer = optimizer
        self.config = config
    }

    /// Checks that `data` fits the model: per-sample shape, labels within the output classes,
    /// finite inputs. The error names the first offending row.
    public func validate(_ data: LabelledData, role: String) throws {
        try Self.check(data, fits: model, role: role)
    }

    /// Checks that `data` fits `model` before anything trains or scores on it: per-sample
    /// shape, labels within the output classes (regression: one target per output, finite),
    /// finite inputs. The error names `role` and the first offending row.
    public static func check(_ data: LabelledData, fits model: Sequential, role: String) throws {
        let expected = model.inputShape.reduce(1, *)
        guard data.inputs.columns == expected else {
            throw TrainingError("\(role) data has \(data.inputs.columns) values per sample (shape \(Array(data.inputs.shape.dropFirst()))); the model expects \(model.inputShape)")
        }
        let classes = model.outputShape.reduce(1, *)
        if let targets = data.targets {
            guard targets.columns == classes else {
                throw TrainingError("\(role) data has \(targets.columns) regression target(s) per sample; the model outputs \(model.outputShape) (a regression head has one output per target)")
            }
            if let flat = targets.data.firstIndex(where: { !$0.isFinite }) {
                throw TrainingError("\(role) target at row \(flat / targets.columns) is \(targets.data[flat]): targets must be finite")
            }
        } else if let row = data.labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw TrainingError("\(role) label \(data.labels[row]) at row \(row) is outside the model's \(classes) classes (0..<\(classes))")
        }
        if let flat = data.inputs.data.firstIndex(where: { !$0.isFinite }) {
            throw TrainingError("\(role) input at row \(flat / expected), value \(flat % expected) is \(data.inputs.data[flat]): inputs must be finite")
        }
    }

    /// One optimizer step on a batch; returns the loss and the number of correct predictions.
    /// A single-row batch throws `BatchStatisticsError` when the model has a BatchNorm layer.
    public func step(_ batch: LabelledData) throws -> (loss: Float, correct: Int) {
        guard batch.count > 0 else { throw TrainingError("an optimizer step needs at least one row") }
        if batch.count == 1 { try model.checkBatchStatistics(batchRows: 1, totalRows: nil) }
        let clock = ContinuousClock()
        let start = clock.now
        optimizer.zeroGrad()
        let zeroed = clock.now
        let logits = model.forward(batch.inputs, mode: .training)
        let loss: LossResult
        if let targets = batch.targets {
            guard targets.count == logits.count else {
                throw TrainingError("a batch has \(targets.columns) regression target(s) per sample; the model outputs \(Array(logits.shape.dropFirst()))")
            }
            loss = config.regressionLoss.evaluate(output: logits.reshaped(targets.shape), target: targets)
        } else {
            loss = Loss.softmaxCrossEntropy(logits: logits, labels: batch.labels, classWeights: config.classWeights,
                                            labelSmoothing: config.labelSmoothing)
        }
        guard loss.value.isFinite else {
            throw TrainingError("loss became \(loss.value) at step \(stepCount): lower the learning rate or check the data for NaN/extreme values")
        }
        model.backward(loss.gradient.reshaped(logits.shape))
        config.l2sp?.addGradient(to: model.parameters)
        let backwardDone = clock.now
        optimizer.step(learningRateScale: config.schedule.factor(at: stepCount))
        let end = clock.now
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        stepTimings.append(StepTiming(zeroGrad: seconds(zeroed - start), forwardBackward: seconds(backwardDone - zeroed),
                                      update: seconds(end - backwardDone)))
        onStep?(stepTimings.count - 1, stepTimings[stepTimings.count - 1])
        stepCount += 1
        if batch.isRegression { return (loss.value, 0) }
        let correct = zip(logits.argmaxRows(), batch.labels).filter { $0 == $1 }.count
        return (loss.value, correct)
    }

    /// Trains for `config.epochs` epochs (fewer if early stopping triggers), calling `progress`
    /// after each epoch. Batches come from `LabelledData.trainingBatches` (a trailing one-row
    /// batch joins the one before it). Throws `BatchStatisticsError` naming the layer when the
    /// model has BatchNorm and a batch would still hold one row (a single training row, or a
    /// batch size of 1).
    public func fit(_ train: LabelledData, validation: LabelledData? = nil,
                    progress: (EpochRecord) -> Void = { _ in }) throws -> TrainingHistory {
        guard config.epochs >= 0, config.batchSize >= 1 else {
            throw TrainingError("training needs epochs ≥ 0 and batch size ≥ 1, got \(config.epochs) and \(config.batchSize)")
        }
        guard train.count > 0 else { throw TrainingError("no training samples") }
        if config.epochs > 0 { try model.checkBatchStatistics(batchRows: min(config.batchSize, train.count), totalRows: train.count) }
        try validate(train, role: "training")
        return try run(train, checkBatches: false, validation: validation, progress: progress)
    }

    /// Trains as `fit(_:validation:progress:)` does, reading the training samples one batch at
    /// a time from `source` (same seeded order as for in-memory data); each batch is checked
    /// as it arrives.
    public func fit(source: some BatchSource, validation: LabelledData? = nil,
                    progress: (EpochRecord) -> Void = { _ in }) throws -> TrainingHistory {
        guard config.epochs >= 0, config.batchSize >= 1 else {
            throw TrainingError("training needs epochs ≥ 0 and batch size ≥ 1, got \(config.epochs) and \(config.batchSize)")
        }
        guard source.count > 0 else { throw TrainingError("no training samples") }
        if config.epochs > 0 { try model.checkBatchStatistics(batchRows: min(config.batchSize, source.count), totalRows: source.count) }
        return try run(source, checkBatches: true, validation: validation, progress: progress)
    }

    private func run(_ train: some BatchSource, checkBatches: Bool, validation: LabelledData?,
                     progress: (EpochRecord) -> Void) throws -> TrainingHistory {
        if let validation { try validate(validation, role: "validation") }
        if let p = config.earlyStoppingPatience, p < 1 { throw TrainingError("early stopping patience must be ≥ 1, got \(p)") }
        if config.earlyStoppingPatience != nil && (validation?.count ?? 0) == 0 {
            throw TrainingError("early stopping needs a non-empty validation set")
        }
        var stopper = config.earlyStoppingPatience.map { EarlyStopping(patience: $0) }
        var rng: SeededRandom? = SeededRandom(seed: config.seed)
        var records: [EpochRecord] = []
        var stoppedEarly = false
        for epoch in 0..<config.epochs {
            let start = ContinuousClock.now
            config.unfreezing?.apply(to: model, epoch: epoch)
            var lossSum: Float = 0, correct = 0
            let order = rng.map { r -> [Int] in var r = r; let p = r.permutation(train.count); rng = r; return p } ?? Array(0..<train.count)
            // The batches `LabelledData.trainingBatches` makes (a trailing one-row batch joins the one before).
            var starts = Array(stride(from: 0, to: train.count, by: config.batchSize))
            if config.batchSize > 1, starts.count > 1, train.count - starts[starts.count - 1] == 1 { starts.removeLast() }
            for (i, lo) in starts.enumerated() {
                let batch = try train.batch(order[lo..<(i + 1 < starts.count ? starts[i + 1] : train.count)])
                if checkBatches { try validate(batch, role: "training") }
                let r = try step(batch)
                lossSum += r.loss * Float(batch.count)
                correct += r.correct
            }
            let score = validation.map { validationMetric(model, $0) }
            let elapsed = ContinuousClock.now - start
            let record = EpochRecord(epoch: epoch, trainLoss: lossSum / Float(train.count),
                                     trainAccuracy: Float(correct) / Float(train.count), validationScore: score,
                                     trainableParameters: model.trainableParameters.reduce(0) { $0 + $1.value.count },
                                     seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            records.append(record)
            progress(record)
            if var s = stopper, let score {
                s.offer(score: score, epoch: epoch, model: model)
                stopper = s
                if s.shouldStop { stoppedEarly = true; break }
            }
        }
        var selected = records.count - 1
        if let s = stopper, s.bestEpoch >= 0 {
            try s.restoreBest(into: model)
            selected = s.bestEpoch
        }
        return TrainingHistory(epochs: records, selectedEpoch: selected, stoppedEarly: stoppedEarly)
    }
}

/// Feature extraction: run a frozen backbone once over the data and train only the head on
/// the cached features, instead of paying the backbone's forward pass every epoch.
public enum FeatureExtraction {
    /// The backbone's outputs (evaluation mode) paired with the labels.
    public static func cache(backbone: Sequential, data: LabelledData, batchSize: Int = 256) -> LabelledData {
        var cached = data
        cached.inputs = Inference.outputs(backbone, data.inputs, batchSize: batchSize)
        return cached
    }
}
