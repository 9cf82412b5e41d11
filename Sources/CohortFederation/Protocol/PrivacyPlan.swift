/// Central user-level differential privacy (DP-FedAvg) for a run, carried in the plan.
///
/// Nodes clip their whole update to L2 norm `clipNorm`; the coordinator averages the clipped
/// updates with equal weights over the fixed number of sampled participants, adds Gaussian noise
/// of standard deviation `noiseMultiplier · clipNorm` to the sum, and accounts the run with
/// `RDPAccountant` at `delta`. See protocols/privacy.md.
public struct PrivacyPlan: Codable, Equatable, Sendable {
    /// Who adds the Gaussian noise.
    public enum Mode: String, Codable, Sendable {
        /// The coordinator adds N(0, (σC)²) to the sum: private against everyone who sees the
        /// models, not against the coordinator.
        case central
        /// Every node adds its share to its own clipped update before secure aggregation, so the
        /// coordinator only ever sees the noised sum. Needs `secureAggregation`.
        case distributed
    }

    /// C: every node's update (all tensors it sends, together) is clipped to this L2 norm.
    public var clipNorm: Double = 1
    /// σ: noise standard deviation on the sum divided by C. When nil, the coordinator chooses it
    /// from `targetEpsilon` for the planned rounds (and sends the plan with σ filled in).
    public var noiseMultiplier: Double? = nil
    /// δ of the (ε, δ) guarantee.
    public var delta: Double = 1e-5
    /// The ε budget: the coordinator will not start a round that would take ε above it.
    public var targetEpsilon: Double? = nil
    /// Central (default) or distributed noise.
    public var mode: Mode = .central
    /// q: when set, every node of the population takes part in a round independently with
    /// probability q (Poisson sampling from the CSPRNG), the mean has the fixed denominator q·N
    /// and the accountant is stepped with q. Nil: the coordinator's fixed fraction, accounted
    /// with q = 1. See protocols/privacy.md, "Sampling".
    public var sampleRate: Double? = nil
    /// When set, C (starting at `clipNorm`) follows a quantile of the update norms.
    public var adaptiveClipping: AdaptiveClippingPlan? = nil

    public init(clipNorm: Double = 1, noiseMultiplier: Double? = nil, delta: Double = 1e-5, targetEpsilon: Double? = nil, mode: Mode = .central,
                sampleRate: Double? = nil, adaptiveClipping: AdaptiveClippingPlan? = nil) {
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
        self.delta = delta
        self.targetEpsilon = targetEpsilon
        self.mode = mode
        self.sampleRate = sampleRate
        self.adaptiveClipping = adaptiveClipping
    }

    private enum CodingKeys: String, CodingKey { case clipNorm, noiseMultiplier, delta, targetEpsilon, mode, sampleRate, adaptiveClipping }

    /// Decodes a privacy section; a field left out keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PrivacyPlan()
        clipNorm = try c.decodeIfPresent(Double.self, forKey: .clipNorm) ?? d.clipNorm
        noiseMultiplier = try c.decodeIfPresent(Double.self, forKey: .noiseMultiplier)
        delta = try c.decodeIfPresent(Double.self, forKey: .delta) ?? d.delta
        targetEpsilon = try c.decodeIfPresent(Double.self, forKey: .targetEpsilon)
        if let text = try c.decodeIfPresent(String.self, forKey: .mode) {
            guard let m = Mode(rawValue: text) else {
                throw AggregationError("plan: privacy.mode must be central or distributed, got '\(text)'")
            }
            mode = m
        }
        sampleRate = try c.decodeIfPresent(Double.self, forKey: .sampleRate)
        adaptiveClipping = try c.decodeIfPresent(AdaptiveClippingPlan.self, forKey: .adaptiveClipping)
    }

    /// Checks the section on its own; errors name the field (as `privacy.<field>`).
    public func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: privacy.\(s)") }
        guard clipNorm > 0, clipNorm.isFinite else { throw fail("clipNorm must be positive and finite, got \(clipNorm)") }
        guard delta > 0, delta < 1 else { throw fail("delta must be in (0, 1), got \(delta)") }
        if let s = noiseMultiplier { guard s > 0, s.isFinite else { throw fail("noiseMultiplier must be positive and finite, got \(s)") } }
        if let e = targetEpsilon { guard e > 0, e.isFinite else { throw fail("targetEpsilon must be positive and finite, got \(e)") } }
        guard noiseMultiplier != nil || targetEpsilon != nil else {
            throw fail("noiseMultiplier or targetEpsilon: give at least one (σ, or an ε budget to choose σ from)")
        }
        if let q = sampleRate { guard q > 0, q <= 1 else { throw fail("sampleRate must be in (0, 1], got \(q)") } }
        try adaptiveClipping?.validate()
    }
}
