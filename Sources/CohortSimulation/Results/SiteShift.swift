/// How far one site's features are from the source domain's.
public struct SiteShift: Codable, Sendable, Equatable {
    /// The site's name.
    public var site: String
    /// Maximum mean discrepancy between the site's features and the source's (0 = no shift).
    public var mmd: Double
    /// Mean L2 norm of the site's feature vectors.
    public var meanFeatureNorm: Double
    /// Proxy A-distance `2(1 − 2ε)` in [0, 2] from a linear domain classifier's held-out error ε
    /// (0 = indistinguishable from the source); NaN when not measured (older results).
    public var proxyADistance: Double

    /// Creates a site shift.
    public init(site: String, mmd: Double, meanFeatureNorm: Double, proxyADistance: Double = .nan) {
        self.site = site
        self.mmd = mmd
        self.meanFeatureNorm = meanFeatureNorm
        self.proxyADistance = proxyADistance
    }

    enum CodingKeys: String, CodingKey { case site, mmd, meanFeatureNorm, proxyADistance }

    /// Decodes a site shift; `null` numbers become NaN (see `metrics.json` conventions).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        site = try c.decode(String.self, forKey: .site)
        mmd = try c.decodeNumber(forKey: .mmd)
        meanFeatureNorm = try c.decodeNumber(forKey: .meanFeatureNorm)
        proxyADistance = c.contains(.proxyADistance) ? try c.decodeNumber(forKey: .proxyADistance) : .nan
    }

    /// Encodes a site shift; non-finite numbers become `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(site, forKey: .site)
        try c.encodeNumber(mmd, forKey: .mmd)
        try c.encodeNumber(meanFeatureNorm, forKey: .meanFeatureNorm)
        try c.encodeNumber(proxyADistance, forKey: .proxyADistance)
    }

    /// Field-wise equality where NaN equals NaN.
    public static func == (a: SiteShift, b: SiteShift) -> Bool {
        a.site == b.site && JSONNumber.same(a.mmd, b.mmd) && JSONNumber.same(a.meanFeatureNorm, b.meanFeatureNorm)
            && JSONNumber.same(a.proxyADistance, b.proxyADistance)
    }
}
