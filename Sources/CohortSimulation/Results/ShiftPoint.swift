/// One sample's features projected to two dimensions, for the domain-shift scatter.
public struct ShiftPoint: Codable, Sendable, Equatable {
    /// The site the sample comes from (or the source domain's name).
    public var site: String
    /// First projected coordinate (e.g. principal component 1).
    public var x: Double
    /// Second projected coordinate (e.g. principal component 2).
    public var y: Double
    /// The sample's class label.
    public var label: Int

    /// Creates a point.
    public init(site: String, x: Double, y: Double, label: Int) {
        self.site = site
        self.x = x
        self.y = y
        self.label = label
    }

    enum CodingKeys: String, CodingKey { case site, x, y, label }

    /// Decodes a point; `null` numbers become NaN (see `metrics.json` conventions).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        site = try c.decode(String.self, forKey: .site)
        x = try c.decodeNumber(forKey: .x)
        y = try c.decodeNumber(forKey: .y)
        label = try c.decode(Int.self, forKey: .label)
    }

    /// Encodes a point; non-finite numbers become `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(site, forKey: .site)
        try c.encodeNumber(x, forKey: .x)
        try c.encodeNumber(y, forKey: .y)
        try c.encode(label, forKey: .label)
    }

    /// Field-wise equality where NaN equals NaN.
    public static func == (a: ShiftPoint, b: ShiftPoint) -> Bool {
        a.site == b.site && JSONNumber.same(a.x, b.x) && JSONNumber.same(a.y, b.y) && a.label == b.label
    }
}
