/// One site's test metrics for an arm's final model.
public struct SiteScore: Codable, Sendable, Equatable {
    /// The site's name, as in `SiteInfo.name`.
    public var site: String
    /// Fraction of the site's test samples classified correctly, in 0...1 (NaN if not measured).
    public var accuracy: Double
    /// Mean per-class recall on the site's test set, in 0...1 (NaN if not measured).
    public var balancedAccuracy: Double
    /// Number of test samples the metrics were computed on.
    public var samples: Int

    /// Creates a score.
    public init(site: String, accuracy: Double, balancedAccuracy: Double, samples: Int) {
        self.site = site
        self.accuracy = accuracy
        self.balancedAccuracy = balancedAccuracy
        self.samples = samples
    }

    enum CodingKeys: String, CodingKey { case site, accuracy, balancedAccuracy, samples }

    /// Decodes a score; `null` numbers become NaN (see `metrics.json` conventions).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        site = try c.decode(String.self, forKey: .site)
        accuracy = try c.decodeNumber(forKey: .accuracy)
        balancedAccuracy = try c.decodeNumber(forKey: .balancedAccuracy)
        samples = try c.decode(Int.self, forKey: .samples)
    }

    /// Encodes a score; non-finite numbers become `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(site, forKey: .site)
        try c.encodeNumber(accuracy, forKey: .accuracy)
        try c.encodeNumber(balancedAccuracy, forKey: .balancedAccuracy)
        try c.encode(samples, forKey: .samples)
    }

    /// Field-wise equality where NaN equals NaN.
    public static func == (a: SiteScore, b: SiteScore) -> Bool {
        a.site == b.site && JSONNumber.same(a.accuracy, b.accuracy)
            && JSONNumber.same(a.balancedAccuracy, b.balancedAccuracy) && a.samples == b.samples
    }
}
