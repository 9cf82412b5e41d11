/// How the coordinator screens every update before it is aggregated (plan field `screening`;
/// protocols/wire.md, "Update screening"). Each update's L2 norm (over all its tensors) is
/// held to a bound: the smaller of `maxNorm` and `maxNormMultiple` × the median norm of the
/// round's updates. An update over it is clipped to the bound or rejected (`action`); its
/// sample weight is capped at `maxSamples`. The round record says which updates were clipped
/// or rejected and why. The strategy then sees only screened updates, whole.
public struct UpdateScreeningPlan: Codable, Equatable, Sendable {
    /// What happens to an update over the norm bound.
    public enum Action: String, Codable, Sendable {
        /// Scaled down to the bound, then aggregated.
        case clip
        /// Left out of the round.
        case reject
    }

    /// Absolute bound on an update's L2 norm (nil: none).
    public var maxNorm: Double?
    /// Relative bound: this multiple of the round's median update norm (nil: none); must be ≥ 1.
    public var maxNormMultiple: Double?
    /// The largest sample weight one update counts with (nil: its announced count).
    public var maxSamples: Int?
    public var action: Action

    public init(maxNorm: Double? = nil, maxNormMultiple: Double? = nil, maxSamples: Int? = nil, action: Action = .reject) {
        self.maxNorm = maxNorm
        self.maxNormMultiple = maxNormMultiple
        self.maxSamples = maxSamples
        self.action = action
    }

    private enum CodingKeys: String, CodingKey { case maxNorm, maxNormMultiple, maxSamples, action }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxNorm = try c.decodeIfPresent(Double.self, forKey: .maxNorm)
        maxNormMultiple = try c.decodeIfPresent(Double.self, forKey: .maxNormMultiple)
        maxSamples = try c.decodeIfPresent(Int.self, forKey: .maxSamples)
        action = try c.decodeIfPresent(Action.self, forKey: .action) ?? .reject
    }

    /// Checks the bounds; errors name the field.
    func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: screening.\(s)") }
        if let maxNorm { guard maxNorm > 0, maxNorm.isFinite else { throw fail("maxNorm must be positive and finite, got \(maxNorm)") } }
        if let m = maxNormMultiple { guard m >= 1, m.isFinite else { throw fail("maxNormMultiple must be finite and ≥ 1, got \(m)") } }
        if let s = maxSamples { guard s >= 1 else { throw fail("maxSamples must be ≥ 1, got \(s)") } }
    }
}
