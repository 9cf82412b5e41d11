/// Secure aggregation for a run (Bonawitz et al. 2017), carried in the plan: the coordinator
/// learns only the sum of the nodes' updates. See protocols/secure-aggregation.md.
///
/// Each node clips its update to L2 norm C (`clipNorm`, or `privacy.clipNorm` under
/// differential privacy), encodes it in fixed point modulo 2³² and masks it. Without privacy
/// the update is first scaled by the node's share of the round's samples, so the sum is the
/// sample-weighted FedAvg numerator; under privacy every update has weight 1 (DP-FedAvg).
public struct SecureAggregationPlan: Codable, Equatable, Sendable {
    /// t: the Shamir threshold and the fewest nodes that must remain at every step of a round.
    /// nil: a majority of the round's participants, ⌊n/2⌋ + 1, and at least 2. An explicit t
    /// must still be a majority (t > n/2) unless `allowMinorityThreshold` is set.
    public var threshold: Int? = nil
    /// Accept an explicit `threshold` with t ≤ n/2 for a round of n participants (a warning is
    /// logged each such round). With t ≤ n/2, two disjoint groups of t could each reconstruct
    /// secrets, so a coordinator that splits the nodes learns more than the sum.
    public var allowMinorityThreshold: Bool = false
    /// C without privacy: the L2 norm every update is clipped to before fixed-point encoding,
    /// which bounds the encoding's range. Under `privacy`, `privacy.clipNorm` is used instead.
    public var clipNorm: Double = 10
    /// The consistency round against a malicious coordinator: nodes sign their keys and the
    /// survivor set they are shown, and reveal shares only with t signatures of the same set.
    /// Every node needs a signing key and its peers' public keys (`SecureAggregation.Identity`).
    public var consistencyCheck: Bool = false

    public init(threshold: Int? = nil, clipNorm: Double = 10, allowMinorityThreshold: Bool = false, consistencyCheck: Bool = false) {
        self.threshold = threshold
        self.clipNorm = clipNorm
        self.allowMinorityThreshold = allowMinorityThreshold
        self.consistencyCheck = consistencyCheck
    }

    private enum CodingKeys: String, CodingKey { case threshold, clipNorm, allowMinorityThreshold, consistencyCheck }

    /// Decodes the section; a field left out keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        threshold = try c.decodeIfPresent(Int.self, forKey: .threshold)
        clipNorm = try c.decodeIfPresent(Double.self, forKey: .clipNorm) ?? SecureAggregationPlan().clipNorm
        allowMinorityThreshold = try c.decodeIfPresent(Bool.self, forKey: .allowMinorityThreshold) ?? false
        consistencyCheck = try c.decodeIfPresent(Bool.self, forKey: .consistencyCheck) ?? false
    }

    /// Encodes the section; `allowMinorityThreshold` and `consistencyCheck` only when set.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(threshold, forKey: .threshold)
        try c.encode(clipNorm, forKey: .clipNorm)
        if allowMinorityThreshold { try c.encode(true, forKey: .allowMinorityThreshold) }
        if consistencyCheck { try c.encode(true, forKey: .consistencyCheck) }
    }

    /// The threshold of a round with `participants` nodes.
    public func threshold(participants: Int) -> Int {
        threshold ?? max(2, SecureAggregation.Parameters.majorityThreshold(nodes: participants))
    }

    /// Checks the threshold of a round with `participants` nodes: throws when it is not a
    /// majority (t ≤ n/2) and the plan does not set `allowMinorityThreshold`; returns a warning
    /// to log when it is not a majority and the plan allows it, nil when it is a majority.
    public func checkThreshold(participants n: Int) throws -> String? {
        let t = threshold(participants: n)
        guard 2 * t <= n else { return nil }
        let problem = "secureAggregation.threshold \(t) is not a majority of the round's \(n) participants (t > n/2)"
        guard allowMinorityThreshold else {
            throw AggregationError("plan: \(problem); set secureAggregation.allowMinorityThreshold to accept it")
        }
        return "WARNING: \(problem), accepted by secureAggregation.allowMinorityThreshold: a coordinator that splits the nodes into groups of t can unmask single updates"
    }

    /// Checks the section on its own; errors name the field (as `secureAggregation.<field>`).
    public func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: secureAggregation.\(s)") }
        if let t = threshold { guard t >= 2 else { throw fail("threshold must be ≥ 2, got \(t)") } }
        guard clipNorm > 0, clipNorm.isFinite else { throw fail("clipNorm must be positive and finite, got \(clipNorm)") }
    }
}
