/// Record-level (patient-level) differential privacy inside each node: DP-SGD with per-example
/// clipping and Gaussian noise (`DPSGD`), accounted by each node for its own examples. See
/// protocols/privacy.md, "Record-level DP-SGD".
public struct RecordPrivacyPlan: Codable, Equatable, Sendable {
    /// C: every example's gradient is clipped to this L2 norm.
    public var clipNorm: Double = 1
    /// σ: noise on the sum of a batch's clipped gradients, divided by C.
    public var noiseMultiplier: Double
    /// δ of the (ε, δ) each node reports.
    public var delta: Double = 1e-5

    public init(clipNorm: Double = 1, noiseMultiplier: Double, delta: Double = 1e-5) {
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
        self.delta = delta
    }

    private enum CodingKeys: String, CodingKey { case clipNorm, noiseMultiplier, delta }

    /// Decodes the section; `noiseMultiplier` is required, the others keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clipNorm = try c.decodeIfPresent(Double.self, forKey: .clipNorm) ?? 1
        guard let sigma = try c.decodeIfPresent(Double.self, forKey: .noiseMultiplier) else {
            throw AggregationError("plan: recordPrivacy.noiseMultiplier is required (σ of DP-SGD)")
        }
        noiseMultiplier = sigma
        delta = try c.decodeIfPresent(Double.self, forKey: .delta) ?? 1e-5
    }

    /// Checks the section; errors name the field (as `recordPrivacy.<field>`).
    public func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: recordPrivacy.\(s)") }
        guard clipNorm > 0, clipNorm.isFinite else { throw fail("clipNorm must be positive and finite, got \(clipNorm)") }
        guard noiseMultiplier > 0, noiseMultiplier.isFinite else { throw fail("noiseMultiplier must be positive and finite, got \(noiseMultiplier)") }
        guard delta > 0, delta < 1 else { throw fail("delta must be in (0, 1), got \(delta)") }
    }
}
