/// Adaptive clipping in a private run (`privacy.adaptiveClipping`): the clip norm C starts at
/// `privacy.clipNorm` and follows the `targetQuantile` of the nodes' update norms, learned each
/// round from a noised count of the nodes' bits (`AdaptiveClipping`, protocols/privacy.md).
public struct AdaptiveClippingPlan: Codable, Equatable, Sendable {
    /// γ: the fraction of updates that should end up unclipped.
    public var targetQuantile = 0.5
    /// η: the geometric step size of C.
    public var learningRate = 0.2
    /// σ_b: the standard deviation of the noise on the sum of the bits. Nil: m/20, m the expected
    /// number of reports (Andrew et al. 2021). 2σ_b must exceed the run's noise multiplier z.
    public var countNoise: Double? = nil

    public init(targetQuantile: Double = 0.5, learningRate: Double = 0.2, countNoise: Double? = nil) {
        self.targetQuantile = targetQuantile
        self.learningRate = learningRate
        self.countNoise = countNoise
    }

    private enum CodingKeys: String, CodingKey { case targetQuantile, learningRate, countNoise }

    /// Decodes the section; a field left out keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AdaptiveClippingPlan()
        targetQuantile = try c.decodeIfPresent(Double.self, forKey: .targetQuantile) ?? d.targetQuantile
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        countNoise = try c.decodeIfPresent(Double.self, forKey: .countNoise)
    }

    /// σ_b for a round expecting `expectedReports` bits.
    public func countNoiseStandardDeviation(expectedReports m: Double) -> Double { countNoise ?? m / 20 }

    /// Checks the section on its own; errors name the field (as `privacy.adaptiveClipping.<field>`).
    public func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: privacy.adaptiveClipping.\(s)") }
        guard targetQuantile >= 0, targetQuantile <= 1 else { throw fail("targetQuantile must be in [0, 1], got \(targetQuantile)") }
        guard learningRate >= 0, learningRate.isFinite else { throw fail("learningRate must be finite and ≥ 0, got \(learningRate)") }
        if let s = countNoise { guard s > 0, s.isFinite else { throw fail("countNoise must be positive and finite, got \(s)") } }
    }
}
