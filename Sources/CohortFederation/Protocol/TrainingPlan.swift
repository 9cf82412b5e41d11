import CohortCheckpoint
import CohortNN

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
    /// Secure aggregation (nil: off): the coordinator learns only the sum of the updates. See
    /// `SecureAggregationPlan` and protocols/secure-aggregation.md.
    public var secureAggregation: SecureAggregationPlan? = nil
    /// Record-level DP-SGD at every node (nil: off). See `RecordPrivacyPlan`.
    public var recordPrivacy: RecordPrivacyPlan? = nil
    /// A local adaptation step and/or negative-transfer guard at the nodes (nil: none). See `AdaptationPlan`.
    public var adaptation: AdaptationPlan? = nil
    /// Low-rank adaptation (nil: off): the coordinator adds these LoRA factors to the model it
    /// starts from; nodes train the factors (plus `trainablePrefixes`) and send only those.
    public var lora: LoRASpec? = nil
    /// How the tabular preprocessing is fitted (nil: each node on its own rows). See `PreprocessingPlan`.
    public var preprocessing: PreprocessingPlan? = nil
    /// Update screening at the coordinator: norm bounds and a sample-weight cap (`"screening": {}`:
    /// none at all; nil: the default norm guard, `usesDefaultNormGuard`). `UpdateScreeningPlan.standard` is the recommended setting where
    /// sites may be hostile. See `effectiveScreening`.
    public var screening: UpdateScreeningPlan? = nil
    /// Personalisation (nil: none): FedAvg-FT, Ditto, FedPer or FedRep. See `PersonalizationPlan`.
    public var personalization: PersonalizationPlan? = nil

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case localEpochs, batchSize, learningRate, momentum, weightDecay, trainablePrefixes, strategy, proximalMu, codec, seed, privacy, secureAggregation, recordPrivacy, adaptation, lora, preprocessing
        case screening
        case personalization
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
        secureAggregation = try c.decodeIfPresent(SecureAggregationPlan.self, forKey: .secureAggregation)
        recordPrivacy = try c.decodeIfPresent(RecordPrivacyPlan.self, forKey: .recordPrivacy)
        adaptation = try c.decodeIfPresent(AdaptationPlan.self, forKey: .adaptation)
        lora = try c.decodeIfPresent(LoRASpec.self, forKey: .lora)
        preprocessing = try c.decodeIfPresent(PreprocessingPlan.self, forKey: .preprocessing)
        screening = try c.decodeIfPresent(UpdateScreeningPlan.self, forKey: .screening)
        personalization = try c.decodeIfPresent(PersonalizationPlan.self, forKey: .personalization)
    }

    /// The screening the coordinator applies: `screening` when the plan names bounds, else none
    /// (a plan without the field gets the default norm guard instead, `usesDefaultNormGuard`).
    /// Off by default: the standard bounds rejected an honest hospital's update in the default
    /// simulation (a small site's norm 6× the round's median) and their weight cap re-weights
    /// honest sites of unequal size, so an operator turns them on knowingly.
    public var effectiveScreening: UpdateScreeningPlan? {
        guard let screening, !screening.screensNothing else { return nil }
        return screening
    }

    /// Whether the coordinator applies its default norm guard (`UpdateNormGuard`) while updates
    /// stream in: the plan names no `screening` (`"screening": {}` turns the guard off too) and
    /// has neither privacy (DP-FedAvg clips every update itself) nor secure aggregation (the
    /// coordinator never sees an update).
    public var usesDefaultNormGuard: Bool { screening == nil && privacy == nil && secureAggregation == nil }

    /// The strategies that may run under `privacy`.
    public static let privateStrategies = StrategyName.allCases.filter(\.averagesWholeUpdates).map(\.rawValue)

    /// `strategy` as a `StrategyName`; throws `UnknownStrategy` listing the valid names.
    public var strategyName: StrategyName {
        get throws(UnknownStrategy) { try StrategyName(parsing: strategy) }
    }

    /// Checks the plan; errors name the field.
    public func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: \(s)") }
        guard localEpochs >= 1 else { throw fail("localEpochs must be ≥ 1, got \(localEpochs)") }
        guard batchSize >= 1 else { throw fail("batchSize must be ≥ 1, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("learningRate must be positive, got \(learningRate)") }
        guard momentum >= 0 && momentum < 1 else { throw fail("momentum must be in [0, 1), got \(momentum)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw fail("weightDecay must be finite and ≥ 0, got \(weightDecay)") }
        guard proximalMu >= 0, proximalMu.isFinite else { throw fail("proximalMu must be finite and ≥ 0, got \(proximalMu)") }
        do { _ = try strategyName } catch { throw fail(error.description) }
        do { try codec.validate() } catch { throw fail("codec: \(error)") }
        try adaptation?.validate()
        if let preprocessing {
            try preprocessing.validate()
            // Under privacy the statistics round's noisy vectors are summed masked (StatisticsRound+Secure).
            guard preprocessing.fit != .federated || privacy == nil || secureAggregation != nil else {
                throw fail("preprocessing.fit 'federated' under privacy needs secureAggregation: each site's statistics vector is summed masked before the noise")
            }
        }
        if let personalization {
            try personalization.validate()
            // A personal model is trained on the site's records outside DP-SGD's accounting, and
            // under secure aggregation the coordinator must see every tensor of the sum.
            guard recordPrivacy == nil else { throw fail("recordPrivacy cannot be combined with personalization (the personal model trains on the site's records outside DP-SGD's accounting)") }
            guard !personalization.keepsLayersPersonal || secureAggregation == nil else {
                throw fail("secureAggregation cannot be combined with personalization.method \(personalization.method) (every node must send the same tensors)")
            }
        }
        if let lora {
            do { try lora.validate() } catch { throw fail(error.description) }
        }
        if let privacy {
            try privacy.validate()
            // The sensitivity bound needs every update averaged with equal weight, whole.
            guard Self.privateStrategies.contains(strategy) else {
                throw fail("privacy needs strategy fedavg, fedprox or fedbn (equal-weight averaging), got '\(strategy)'")
            }
            // Top-k with error feedback carries unsent (unclipped) mass into later rounds.
            guard codec.topKFraction == nil else { throw fail("privacy cannot be combined with codec.topKFraction (top-k sparsification)") }
            guard privacy.mode == .central || secureAggregation != nil else {
                throw fail("privacy.mode distributed needs secureAggregation (without it the coordinator sees each node's noised update)")
            }
            // Not wired under secure aggregation (protocols/privacy.md, "Sampling").
            guard privacy.sampleRate == nil || secureAggregation == nil else {
                throw fail("privacy.sampleRate cannot be combined with secureAggregation yet: the round's threshold makes whether it is summed depend on how many nodes were sampled, which the sampled Gaussian analysis does not cover")
            }
        }
        if let secureAggregation { try validateSecureAggregation(secureAggregation) }
        if let screening, !screening.screensNothing {
            try screening.validate()
            // DP-FedAvg clips every update itself; secure aggregation never shows one.
            guard privacy == nil, secureAggregation == nil else {
                throw fail("screening cannot be combined with privacy or secureAggregation (DP-FedAvg clips every update to C itself; under secure aggregation the coordinator sees only the sum)")
            }
        }
        try recordPrivacy?.validate()
        // The adaptation step and the guard read the site's records outside DP-SGD's accounting.
        guard recordPrivacy == nil || adaptation == nil else {
            throw fail("recordPrivacy cannot be combined with adaptation (the adaptation step and the guard use the site's records outside DP-SGD's accounting)")
        }
    }
}

extension TrainingPlan {
    /// The strategies that may run under `secureAggregation`: the coordinator sees only the sum.
    public static let secureAggregationStrategies = StrategyName.allCases.filter(\.averagesWholeUpdates).map(\.rawValue)

    /// Secure aggregation sends one dense fixed-point vector per node, which the codec cannot
    /// shrink: top-k would give every node a different index set (masks only cancel over the
    /// same coordinates), and float16/int8/zlib are replaced by the fixed point (masked words are
    /// uniform, so zlib gains nothing).
    func validateSecureAggregation(_ s: SecureAggregationPlan) throws {
        func fail(_ text: String) -> AggregationError { AggregationError("plan: \(text)") }
        try s.validate()
        guard Self.secureAggregationStrategies.contains(strategy) else {
            throw fail("secureAggregation needs strategy fedavg, fedprox or fedbn (the coordinator sees only the sum of the updates), got '\(strategy)'")
        }
        guard codec.topKFraction == nil else {
            throw fail("secureAggregation cannot be combined with codec.topKFraction: every node would send a different index set, and masks cancel only over the same coordinates")
        }
        guard codec.quantization == .none, codec.zlibLevel == nil else {
            throw fail("secureAggregation replaces codec.quantization and codec.zlibLevel with its fixed-point encoding; leave them out")
        }
    }
}
