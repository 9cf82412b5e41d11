import CohortNN
import CohortTensor

/// One adaptation of a model to a target site, by any `AdaptationMethod`, with the checks and
/// the before/after summary `cohort adapt` reports. The target's labels are used only where the
/// method says so (prototypes) and by the optional negative-transfer guard; otherwise they only
/// measure the result.
public enum TargetAdaptation {
    /// How the methods train.
    public struct Settings: Sendable {
        /// Passes over the data (TENT, SHOT: target; DANN, CORAL, MMD: source); nil: `defaultEpochs`.
        public var epochs: Int?
        /// nil: `defaultLearningRate`.
        public var learningRate: Float?
        public var batchSize = 64
        /// Weight of the domain term (DANN's domain loss, CORAL, MMD) against the source loss.
        public var domainWeight: Float = 1
        /// Final layers that form the classifier head (SHOT freezes them; DANN, CORAL and MMD
        /// align the features entering them).
        public var headLayers = 1
        /// Use at most this many source rows (a seeded random subset); nil: all.
        public var maxSourceRows: Int?
        public var seed: UInt64 = 0
        /// Run the negative-transfer guard on `validation`: keep the best of the adapted model,
        /// the incoming one and a small model trained from scratch on `support`.
        public var negativeTransferGuard = false
        public var scratch = NegativeTransferGuard.ScratchTraining()
        /// The defaults: method epochs and rates, batches of 64, domain weight 1, one head layer.
        public init() {}

        /// TENT 1, SHOT 5, DANN/CORAL/MMD 3; 0 for the methods that do not train.
        public static func defaultEpochs(_ method: AdaptationMethod) -> Int {
            switch method {
            case .adabn, .prototypes: return 0
            case .tent: return 1
            case .shot: return 5
            case .dann, .coral, .mmd: return 3
            }
        }

        /// TENT 1e-3 (Adam, its paper's rate); SHOT 3e-4 (SGD, momentum 0.9), DANN 3e-4 (Adam,
        /// annealed), CORAL/MMD 3e-4 (Adam): chosen on the simulated hospitals' labelled training rows.
        public static func defaultLearningRate(_ method: AdaptationMethod) -> Float { method == .tent ? 1e-3 : 3e-4 }
    }

    /// The model to keep and what happened.
    public struct Outcome {
        /// The adapted model, or, with the guard, whichever candidate won (the scratch model
        /// has its own, small architecture).
        public var model: Sequential
        public var summary: AdaptationSummary
    }

    /// Adapts `model` in place with `method`.
    ///
    /// - Parameters:
    ///   - target: every target row the method may use as unlabelled input `[n, features]`.
    ///   - support: labelled target rows the method may use (prototypes; the guard's scratch model).
    ///   - validation: labelled target rows, never used for adapting, to measure accuracy before
    ///     and after (and for the guard); may be empty.
    ///   - source: labelled source rows (DANN, CORAL, MMD).
    public static func run(_ model: Sequential, method: AdaptationMethod, target: Tensor, support: LabelledData,
                           validation: LabelledData, source: LabelledData?, settings: Settings = Settings()) throws -> Outcome {
        let started = ContinuousClock.now
        try check(model, method: method, target: target, support: support, validation: validation, source: source, settings: settings)
        let classes = model.outputShape.reduce(1, *)
        let incoming = settings.negativeTransferGuard ? try model.copy() : nil
        let beforeState = model.stateDict()
        let before = PredictionStatistics(model: model, inputs: target)
        let accuracyBefore = validation.count > 0 ? Double(Inference.accuracy(model, validation)) : nil
        let epochs = Settings.defaultEpochs(method) == 0 ? 0 : settings.epochs ?? Settings.defaultEpochs(method)
        let rate = settings.learningRate ?? Settings.defaultLearningRate(method)
        var losses: [Float] = []
        var sourceRows: Int?
        switch method {
        case .adabn:
            AdaBN.adapt(model, inputs: target)
        case .tent:
            losses = TENT.adapt(model, inputs: target, epochs: epochs, batchSize: settings.batchSize, learningRate: rate, seed: settings.seed)
            AdaBN.adapt(model, inputs: target)   // TENT normalises with target statistics
        case .shot:
            var config = SHOT.Config()
            config.epochs = epochs
            config.batchSize = settings.batchSize
            config.learningRate = rate
            config.headLayers = settings.headLayers
            config.seed = settings.seed
            losses = try SHOT.adapt(model, inputs: target, classes: classes, config: config)
        case .dann, .coral, .mmd:
            let data = subsample(source!, limit: settings.maxSourceRows, seed: settings.seed)
            sourceRows = data.count
            let (features, head) = try model.split(at: model.layers.count - settings.headLayers)
            var config = DomainTrainingConfig()
            config.epochs = epochs
            config.batchSize = settings.batchSize
            config.learningRate = rate
            config.weight = settings.domainWeight
            config.seed = settings.seed
            let records: [DomainTrainingRecord]
            if method == .dann {
                let width = features.outputShape.reduce(1, *)
                let domain = try Sequential(spec: ModelSpec(inputShape: [width], layers: [
                    LayerSpec(.gradientreversal, name: "domain.grl"), LayerSpec(.dense, name: "domain.0", units: max(16, min(width, 64))),
                    LayerSpec(.relu, name: "domain.1"), LayerSpec(.dense, name: "domain.2", units: 2),
                ]), seed: settings.seed &+ 1)
                config.annealLearningRate = true
                records = try DANN.train(features: features, head: head, domainClassifier: domain, source: data, target: target, config: config)
            } else {
                records = try AlignmentTraining.train(features: features, head: head, source: data, target: target,
                                                      method: method == .coral ? .coral : .mmd, config: config)
            }
            losses = records.map(\.domainLoss)
        case .prototypes:
            try PrototypeHead.install(into: model, support: support)
        }
        var summary = AdaptationSummary(
            method: method, targetRows: target.rows, supportRows: method.needsTargetLabels ? support.count : 0, sourceRows: sourceRows,
            epochs: epochs, learningRate: epochs > 0 ? rate : nil, before: before, after: PredictionStatistics(model: model, inputs: target),
            validationRows: validation.count, accuracyBefore: accuracyBefore,
            accuracyAfter: validation.count > 0 ? Double(Inference.accuracy(model, validation)) : nil,
            changedTensors: changed(beforeState, model.stateDict()), lossHistory: losses.map(Double.init))
        var kept = model
        if let incoming {
            let (choice, report) = try NegativeTransferGuard.choose(
                train: support, validation: validation, incoming: incoming, adapted: model,
                makeScratch: { try ScratchModel.make(inputShape: model.inputShape, classes: classes, seed: settings.seed &+ 2) },
                training: settings.scratch)
            kept = choice
            summary.guardReport = report
        }
        summary.seconds = Self.seconds(since: started)
        return Outcome(model: kept, summary: summary)
    }

    static func check(_ model: Sequential, method: AdaptationMethod, target: Tensor, support: LabelledData, validation: LabelledData,
                      source: LabelledData?, settings: Settings) throws {
        let columns = model.inputShape.reduce(1, *)
        let classes = model.outputShape.reduce(1, *)
        guard target.rank == 2, target.columns == columns else {
            throw AdaptationError("the target has \(target.columns) values per sample; the model expects input \(model.inputShape) (\(columns) values)")
        }
        guard target.rows >= 2 else { throw AdaptationError("the target needs at least 2 rows, it has \(target.rows)") }
        guard settings.headLayers >= 1 && settings.headLayers < model.layers.count else {
            throw AdaptationError("headLayers must be in 1..<\(model.layers.count) (the model has \(model.layers.count) layers), got \(settings.headLayers)")
        }
        guard settings.batchSize >= 2 else { throw AdaptationError("batch size must be at least 2, got \(settings.batchSize)") }
        if let e = settings.epochs, e < 0 { throw AdaptationError("epochs must be ≥ 0, got \(e)") }
        if let r = settings.learningRate, !(r > 0 && r.isFinite) { throw AdaptationError("learning rate must be positive, got \(r)") }
        for (name, data) in [("labelled target", support), ("validation", validation)] + (source.map { [("source", $0)] } ?? []) {
            guard data.count == 0 || data.inputs.columns == columns else {
                throw AdaptationError("the \(name) data has \(data.inputs.columns) values per sample; the model expects \(columns)")
            }
            if let row = data.labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
                throw AdaptationError("\(name) label \(data.labels[row]) at row \(row) is outside the model's \(classes) classes")
            }
        }
        if method.needsSource {
            guard let source, source.count >= 2 else {
                throw AdaptationError("\(method.rawValue) needs labelled source data (at least 2 rows), got \(source?.count ?? 0)")
            }
        }
        if method.needsTargetLabels && support.count == 0 {
            throw AdaptationError("\(method.rawValue) needs labelled target rows; the target has none left for it")
        }
        if settings.negativeTransferGuard {
            guard support.count > 0, validation.count > 0 else {
                throw AdaptationError("the negative-transfer guard needs labelled target rows for a scratch model and a validation split, got \(support.count) and \(validation.count)")
            }
        }
        if method == .prototypes && settings.headLayers != 1 {
            throw AdaptationError("prototypes replace exactly the last layer; headLayers must be 1, got \(settings.headLayers)")
        }
    }

    /// `limit` seeded random rows of `data` (all of them when it has no more).
    static func subsample(_ data: LabelledData, limit: Int?, seed: UInt64) -> LabelledData {
        guard let limit, limit < data.count else { return data }
        var rng = SeededRandom(seed: seed ^ 0x5a17)
        return data.subset(rng.permutation(data.count).prefix(limit))
    }

    /// Names of the tensors whose values differ.
    static func changed(_ a: [(name: String, value: Tensor)], _ b: [(name: String, value: Tensor)]) -> [String] {
        let old = Dictionary(a.map { ($0.name, $0.value) }, uniquingKeysWith: { x, _ in x })
        return b.filter { old[$0.name]?.data != $0.value.data }.map(\.name)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
