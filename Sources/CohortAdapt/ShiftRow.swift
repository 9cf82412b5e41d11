/// Domain shift between the source features and one site's features.
public struct ShiftRow: Codable, Sendable, Equatable {
    /// The site's name.
    public var site: String
    /// MMD² between source and site features (`AlignmentLoss.mmd`), with Gaussian bandwidths
    /// fixed from the source features so rows are comparable across sites.
    public var mmd: Float
    /// Proxy A-distance `2(1 − 2ε)` (Ben-David et al. 2007), ε clamped to at most 0.5 so the
    /// value lies in [0, 2]: 0 when a linear domain classifier cannot beat chance, 2 when it
    /// separates the domains perfectly.
    public var proxyADistance: Float
    /// The domain classifier's held-out error ε (unclamped).
    public var domainError: Float
    /// Rows used per domain (the smaller side, capped by `maxSamples`).
    public var samplesPerDomain: Int
}
