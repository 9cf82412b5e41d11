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
    /// Regression only (nil for classes): mean absolute error in the target's original units
    /// (NaN if not measured).
    public var mae: Double?
    /// Regression only: root mean squared error in the target's original units.
    public var rmse: Double?
    /// Regression only: coefficient of determination R² (1 is perfect; below 0 is worse than the mean).
    public var r2: Double?

    /// Creates a score.
    public init(site: String, accuracy: Double, balancedAccuracy: Double, samples: Int) {
        self.site = site
        self.accuracy = accuracy
        self.balancedAccuracy = balancedAccuracy
        self.samples = samples
    }

    /// A regression score (accuracy and balanced accuracy are NaN).
    public init(site: String, mae: Double, rmse: Double, r2: Double, samples: Int) {
        self.init(site: site, accuracy: .nan, balancedAccuracy: .nan, samples: samples)
        self.mae = mae
        self.rmse = rmse
        self.r2 = r2
    }

    /// Whether this is a regression score.
    public var isRegression: Bool { r2 != nil }

    enum CodingKeys: String, CodingKey { case site, accuracy, balancedAccuracy, samples, mae, rmse, r2 }

    /// Decodes a score; `null` numbers become NaN (see `metrics.json` conventions).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        site = try c.decode(String.self, forKey: .site)
        accuracy = try c.decodeNumber(forKey: .accuracy)
        balancedAccuracy = try c.decodeNumber(forKey: .balancedAccuracy)
        samples = try c.decode(Int.self, forKey: .samples)
        if c.contains(.r2) {
            mae = try c.decodeNumber(forKey: .mae)
            rmse = try c.decodeNumber(forKey: .rmse)
            r2 = try c.decodeNumber(forKey: .r2)
        }
    }

    /// Encodes a score; non-finite numbers become `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(site, forKey: .site)
        try c.encodeNumber(accuracy, forKey: .accuracy)
        try c.encodeNumber(balancedAccuracy, forKey: .balancedAccuracy)
        try c.encode(samples, forKey: .samples)
        if let r2 {
            try c.encodeNumber(mae ?? .nan, forKey: .mae)
            try c.encodeNumber(rmse ?? .nan, forKey: .rmse)
            try c.encodeNumber(r2, forKey: .r2)
        }
    }

    /// Field-wise equality where NaN equals NaN.
    public static func == (a: SiteScore, b: SiteScore) -> Bool {
        a.site == b.site && JSONNumber.same(a.accuracy, b.accuracy)
            && JSONNumber.same(a.balancedAccuracy, b.balancedAccuracy) && a.samples == b.samples
            && (a.r2 == nil) == (b.r2 == nil) && JSONNumber.same(a.mae ?? 0, b.mae ?? 0)
            && JSONNumber.same(a.rmse ?? 0, b.rmse ?? 0) && JSONNumber.same(a.r2 ?? 0, b.r2 ?? 0)
    }
}
