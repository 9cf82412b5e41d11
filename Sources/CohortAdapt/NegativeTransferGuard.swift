import CohortNN
import CohortTensor

/// Guards a site against negative transfer: the received model (and its adapted version) must
/// beat a small model trained from scratch on the site's own data, else the site keeps the
/// scratch model. Every candidate is scored on the same validation split.
public enum NegativeTransferGuard {
    /// How the from-scratch model is trained.
    public struct ScratchTraining: Sendable {
        public var epochs = 30
        public var batchSize = 32
        public var learningRate: Float = 1e-2
        public var seed: UInt64 = 0
        /// 30 epochs, batches of 32, Adam at 1e-2, seed 0.
        public init() {}
    }

    /// Trains `makeScratch()` on `train`, scores `incoming`, `adapted` (when given) and the
    /// scratch model on `validation` with `metric` (higher is better, accuracy by default) and
    /// returns the best with a report. Ties go to adapted, then incoming, then scratch.
    public static func choose(train: LabelledData, validation: LabelledData, incoming: Sequential, adapted: Sequential? = nil,
                              makeScratch: () throws -> Sequential, training: ScratchTraining = ScratchTraining(),
                              metric: (Sequential, LabelledData) -> Float = Inference.accuracy) throws -> (model: Sequential, report: NegativeTransferReport) {
        guard validation.count > 0 else { throw TrainingError("the negative-transfer guard needs a non-empty validation split") }
        guard train.count > 0 else { throw TrainingError("the negative-transfer guard needs a non-empty training split for the scratch model") }
        for (name, model) in [("incoming", incoming), ("adapted", adapted)] {
            guard let model else { continue }
            try Trainer.check(validation, fits: model, role: "validation (\(name) model)")
        }
        let scratch = try makeScratch()
        try trainScratch(scratch, on: train, training: training)
        return compare(validation: validation, incoming: incoming, adapted: adapted, scratch: scratch, metric: metric)
    }

    /// Trains a from-scratch model in place on the site's training split as `training` says.
    public static func trainScratch(_ scratch: Sequential, on train: LabelledData, training: ScratchTraining = ScratchTraining()) throws {
        let trainer = Trainer(model: scratch, optimizer: Adam(groups: [ParameterGroup(parameters: scratch.parameters, learningRate: training.learningRate)]),
                              config: TrainingConfig(epochs: training.epochs, batchSize: training.batchSize, seed: training.seed))
        _ = try trainer.fit(train)
    }

    /// Scores `incoming`, `adapted` and `personal` (when given) and an already trained
    /// `scratch` model on `validation` and returns the best with a report (ties: adapted,
    /// personal, incoming, scratch). Only `validation` is read: no other score reaches the
    /// choice. A site whose data does not change can train its scratch model once and compare
    /// every new incoming model against it.
    public static func compare(validation: LabelledData, incoming: Sequential, adapted: Sequential?, personal: Sequential? = nil,
                               scratch: Sequential,
                               metric: (Sequential, LabelledData) -> Float = Inference.accuracy) -> (model: Sequential, report: NegativeTransferReport) {
        var candidates: [(NegativeTransferReport.Choice, Sequential, Float)] = []
        if let adapted { candidates.append((.adapted, adapted, metric(adapted, validation))) }
        let personalScore = personal.map { metric($0, validation) }
        if let personal, let personalScore { candidates.append((.personal, personal, personalScore)) }
        let incomingScore = metric(incoming, validation)
        candidates.append((.incoming, incoming, incomingScore))
        let scratchScore = metric(scratch, validation)
        candidates.append((.scratch, scratch, scratchScore))
        var best = 0
        for i in candidates.indices where candidates[i].2 > candidates[best].2 { best = i }
        let runnerUp = candidates.indices.filter { $0 != best }.map { candidates[$0].2 }.max() ?? candidates[best].2
        let report = NegativeTransferReport(winner: candidates[best].0, incomingScore: incomingScore,
                                            adaptedScore: adapted.map { _ in candidates[0].2 }, personalScore: personalScore, scratchScore: scratchScore,
                                            margin: candidates[best].2 - runnerUp, gainOverIncoming: candidates[best].2 - incomingScore,
                                            validationCount: validation.count)
        return (candidates[best].1, report)
    }
}
