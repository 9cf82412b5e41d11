/// Secure aggregation for a run (Bonawitz et al. 2017), carried in the plan: the coordinator
/// learns only the sum of the nodes' updates. See protocols/secure-aggregation.md.
///
/// Each node clips its update to L2 norm C (`clipNorm`, or `privacy.clipNorm` under
/// differential privacy), encodes it in fixed point modulo 2³² and masks it. Without privacy
/// the update is first scaled by the node's share of the round's samples, so the sum is the
/// sample-weighted FedAvg numerator; under privacy every update has weight 1 (DP-FedAvg).
public struct SecureAggregationPlan: Codable, Equatable, Sendable {
    /// t: the Shamir threshold and the fewest nodes that must remain at every step of a round.
    /// nil: a majority of the round's participants, ⌊n/2⌋ + 1, and at least 2.
    public var threshold: Int? = nil
    /// C without privacy: the L2 norm every update is clipped to before fixed-point encoding,
    /// which bounds the encoding's range. Under `privacy`, `privacy.clipNorm` is used instead.
    public var clipNorm: Double = 10

    public init(threshold: Int? = nil, clipNorm: Double = 10) {
        self.threshold = threshold
        self.clipNorm = clipNorm
    }

    private enum CodingKeys: String, CodingKey { case threshold, clipNorm }

    /// Decodes the section; a field left out keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        threshold = try c.decodeIfPresent(Int.self, forKey: .threshold)
        clipNorm = try c.decodeIfPresent(Double.self, forKey: .clipNorm) ?? SecureAggregationPlan().clipNorm
    }

    /// The threshold of a round with `participants` nodes.
    public func threshold(participants: Int) -> Int {
        threshold ?? max(2, SecureAggregation.Parameters.majorityThreshold(nodes: participants))
    }

    /// Checks the section on its own; errors name the field (as `secureAggregation.<field>`).
    public func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: secureAggregation.\(s)") }
        if let t = threshold { guard t >= 2 else { throw fail("threshold must be ≥ 2, got \(t)") } }
        guard clipNorm > 0, clipNorm.isFinite else { throw fail("clipNorm must be positive and finite, got \(clipNorm)") }
    }
}
