import CohortCheckpoint

/// What every node does in a round, sent with the model.
public struct TrainingPlan: Codable, Equatable, Sendable {
    /// Local passes over the node's training data per round.
    public var localEpochs = 1
    public var batchSize = 32
    public var learningRate: Float = 0.05
    public var momentum: Float = 0.9
    public var weightDecay: Float = 0
    /// Name prefixes of the tensors that train (nil: all). Only these cross the wire back.
    public var trainablePrefixes: [String]? = nil
    /// Aggregation: fedavg, fedprox, fedbn, fedadam, fedyogi, fedadagrad, median, trimmed-mean.
    public var strategy = "fedavg"
    /// FedProx's proximal strength μ (used by the nodes when > 0).
    public var proximalMu: Float = 0
    /// How nodes encode their deltas.
    public var codec = DeltaCodecConfig()
    /// Seeds local shuffling (combined with the round number).
    public var seed: UInt64 = 0
    /// Central user-level DP-FedAvg (nil: off). See `PrivacyPlan` and protocols/privacy.md.
    public var privacy: PrivacyPlan? = nil
    /// A local adaptation step and/or negative-transfer guard at the nodes (nil: none). See `AdaptationPlan`.
    public var adaptation: AdaptationPlan? = nil

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case localEpochs, batchSize, learningRate, momentum, weightDecay, trainablePrefixes, strategy, proximalMu, codec, seed, privacy, adaptation
    }

    /// Decodes a plan; any field left out keeps its default, so a plan file names only what it changes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingPlan()
        localEpochs = try c.decodeIfPresent(Int.self, forKey: .localEpochs) ?? d.localEpochs
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
        momentum = try c.decodeIfPresent(Float.self, forKey: .momentum) ?? d.momentum
        weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? d.weightDecay
        trainablePrefixes = try c.decodeIfPresent([String].self, forKey: .trainablePrefixes)
        strategy = try c.decodeIfPresent(String.self, forKey: .strategy) ?? d.strategy
        proximalMu = try c.decodeIfPresent(Float.self, forKey: .proximalMu) ?? d.proximalMu
        codec = try c.decodeIfPresent(DeltaCodecConfig.self, forKey: .codec) ?? d.codec
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        privacy = try c.decodeIfPresent(PrivacyPlan.self, forKey: .privacy)
        adaptation = try c.decodeIfPresent(AdaptationPlan.self, forKey: .adaptation)
    }

    /// The strategies that may run under `privacy`.
    public static let privateStrategies = ["fedavg", "fedprox", "fedbn"]

    /// Checks the plan; errors name the field.
    public func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: \(s)") }
        guard localEpochs >= 1 else { throw fail("localEpochs must be ≥ 1, got \(localEpochs)") }
        guard batchSize >= 1 else { throw fail("batchSize must be ≥ 1, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("learningRate must be positive, got \(learningRate)") }
        guard momentum >= 0 && momentum < 1 else { throw fail("momentum must be in [0, 1), got \(momentum)") }
        guard proximalMu >= 0 else { throw fail("proximalMu must be ≥ 0") }
        let known = ["fedavg", "fedprox", "fedbn", "fedadam", "fedyogi", "fedadagrad", "median", "trimmed-mean"]
        guard known.contains(strategy) else { throw fail("unknown strategy '\(strategy)' (known: \(known.joined(separator: ", ")))") }
        do { try codec.validate() } catch { throw fail("codec: \(error)") }
        try adaptation?.validate()
        if let privacy {
            try privacy.validate()
            // The sensitivity bound needs every update averaged with equal weight, whole.
            guard Self.privateStrategies.contains(strategy) else {
                throw fail("privacy needs strategy fedavg, fedprox or fedbn (equal-weight averaging), got '\(strategy)'")
            }
            // Top-k with error feedback carries unsent (unclipped) mass into later rounds.
            guard codec.topKFraction == nil else { throw fail("privacy cannot be combined with codec.topKFraction (top-k sparsification)") }
        }
    }
}
