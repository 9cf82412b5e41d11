/// The domain-shift view of a run: every site's features in two dimensions, and per-site distances.
public struct ShiftView: Codable, Sendable, Equatable {
    /// Projected samples (typically from `PrincipalComponents.project`), coloured by site in the report.
    public var points: [ShiftPoint]
    /// Fraction of the total feature variance each projected axis explains, in 0...1.
    public var explainedVariance: [Double]
    /// Per-site shift statistics against the source domain.
    public var perSite: [SiteShift]

    /// Creates a shift view.
    public init(points: [ShiftPoint], explainedVariance: [Double], perSite: [SiteShift]) {
        self.points = points
        self.explainedVariance = explainedVariance
        self.perSite = perSite
    }

    enum CodingKeys: String, CodingKey { case points, explainedVariance, perSite }

    /// Decodes a shift view; `null` numbers become NaN (see `metrics.json` conventions).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        points = try c.decode([ShiftPoint].self, forKey: .points)
        explainedVariance = try c.decodeNumbers(forKey: .explainedVariance)
        perSite = try c.decode([SiteShift].self, forKey: .perSite)
    }

    /// Encodes a shift view; non-finite numbers become `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(points, forKey: .points)
        try c.encodeNumbers(explainedVariance, forKey: .explainedVariance)
        try c.encode(perSite, forKey: .perSite)
    }

    /// Field-wise equality where NaN equals NaN.
    public static func == (a: ShiftView, b: ShiftView) -> Bool {
        a.points == b.points && JSONNumber.same(a.explainedVariance, b.explainedVariance) && a.perSite == b.perSite
    }
}
