/// How the coordinator screens every update before it is aggregated (plan field `screening`;
/// protocols/wire.md, "Update screening"). Each update's L2 norm (over all its tensors) is
/// held to a bound: the smaller of `maxNorm` and `maxNormMultiple` × the median norm of the
/// round's updates. An update over it is clipped to the bound or rejected (`action`); its
/// sample weight is capped at the smaller of `maxSamples` and `maxSamplesMultiple` × the
/// median sample count of the round's updates. The round record says which updates were
/// clipped, capped or rejected and why. The strategy then sees only screened updates, whole.
/// A plan without the field, or with `"screening": {}` (no bound at all), screens nothing;
/// `standard` is the recommended setting where sites may be hostile.
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
    /// Relative weight cap: this multiple of the median sample count of the round's updates
    /// (nil: none); must be ≥ 1.
    public var maxSamplesMultiple: Double?
    public var action: Action

    public init(maxNorm: Double? = nil, maxNormMultiple: Double? = nil, maxSamples: Int? = nil, maxSamplesMultiple: Double? = nil,
                action: Action = .reject) {
        self.maxNorm = maxNorm
        self.maxNormMultiple = maxNormMultiple
        self.maxSamples = maxSamples
        self.maxSamplesMultiple = maxSamplesMultiple
        self.action = action
    }

    /// The screening of a plan that names none (and has neither privacy nor secure
    /// aggregation): updates over 5× the round's median norm are rejected, and no update counts
    /// with more than 2× the round's median sample count. No honest update of the simulation's
    /// hospitals (1 to 8 local steps a round) was rejected in the clean runs of
    /// `cohort simulate --byzantine 1`; `scale` and `noise` (×1000, 100× the norm) always were,
    /// and ×−10 of the smallest hospital's update in 6 of 10 rounds (protocols/plan.md).
    public static let standard = UpdateScreeningPlan(maxNormMultiple: 5, maxSamplesMultiple: 2, action: .reject)

    /// Whether it bounds nothing (`"screening": {}`): the updates go to the strategy as they are.
    public var screensNothing: Bool { maxNorm == nil && maxNormMultiple == nil && maxSamples == nil && maxSamplesMultiple == nil }

    private enum CodingKeys: String, CodingKey { case maxNorm, maxNormMultiple, maxSamples, maxSamplesMultiple, action }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxNorm = try c.decodeIfPresent(Double.self, forKey: .maxNorm)
        maxNormMultiple = try c.decodeIfPresent(Double.self, forKey: .maxNormMultiple)
        maxSamples = try c.decodeIfPresent(Int.self, forKey: .maxSamples)
        maxSamplesMultiple = try c.decodeIfPresent(Double.self, forKey: .maxSamplesMultiple)
        action = try c.decodeIfPresent(Action.self, forKey: .action) ?? .reject
    }

    /// Checks the bounds; errors name the field.
    func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: screening.\(s)") }
        if let maxNorm { guard maxNorm > 0, maxNorm.isFinite else { throw fail("maxNorm must be positive and finite, got \(maxNorm)") } }
        if let m = maxNormMultiple { guard m >= 1, m.isFinite else { throw fail("maxNormMultiple must be finite and ≥ 1, got \(m)") } }
        if let s = maxSamples { guard s >= 1 else { throw fail("maxSamples must be ≥ 1, got \(s)") } }
        if let m = maxSamplesMultiple { guard m >= 1, m.isFinite else { throw fail("maxSamplesMultiple must be finite and ≥ 1, got \(m)") } }
    }
}
