/// A simulated site (hospital) and its data.
public struct SiteInfo: Codable, Sendable, Equatable {
    /// The site's name; unique within a run.
    public var name: String
    /// Labelled training samples at the site.
    public var trainLabelled: Int
    /// Unlabelled training samples at the site (usable by domain adaptation).
    public var trainUnlabelled: Int
    /// Test samples at the site.
    public var test: Int
    /// Class prevalence, one fraction per class (sums to about 1).
    public var prevalence: [Double]
    /// Scanner / acquisition parameters of the site's simulated shift, by name (e.g. `contrast`).
    public var scanner: [String: Double]

    /// Creates a site description.
    public init(name: String, trainLabelled: Int, trainUnlabelled: Int, test: Int,
                prevalence: [Double], scanner: [String: Double]) {
        self.name = name
        self.trainLabelled = trainLabelled
        self.trainUnlabelled = trainUnlabelled
        self.test = test
        self.prevalence = prevalence
        self.scanner = scanner
    }

    enum CodingKeys: String, CodingKey { case name, trainLabelled, trainUnlabelled, test, prevalence, scanner }

    /// Decodes a site; `null` numbers become NaN (see `metrics.json` conventions).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        trainLabelled = try c.decode(Int.self, forKey: .trainLabelled)
        trainUnlabelled = try c.decode(Int.self, forKey: .trainUnlabelled)
        test = try c.decode(Int.self, forKey: .test)
        prevalence = try c.decodeNumbers(forKey: .prevalence)
        scanner = try c.decodeNumberMap(forKey: .scanner)
    }

    /// Encodes a site; non-finite numbers become `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(trainLabelled, forKey: .trainLabelled)
        try c.encode(trainUnlabelled, forKey: .trainUnlabelled)
        try c.encode(test, forKey: .test)
        try c.encodeNumbers(prevalence, forKey: .prevalence)
        try c.encodeNumbers(scanner, forKey: .scanner)
    }

    /// Field-wise equality where NaN equals NaN.
    public static func == (a: SiteInfo, b: SiteInfo) -> Bool {
        a.name == b.name && a.trainLabelled == b.trainLabelled && a.trainUnlabelled == b.trainUnlabelled
            && a.test == b.test && JSONNumber.same(a.prevalence, b.prevalence)
            && JSONNumber.same(a.scanner, b.scanner)
    }
}
