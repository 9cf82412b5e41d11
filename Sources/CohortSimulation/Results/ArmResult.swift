/// The outcome of one arm (training strategy) of a simulation.
public struct ArmResult: Codable, Sendable, Equatable {
    /// The arm's short name, e.g. `fedavg` or `source-only`; unique within a run.
    public var name: String
    /// One sentence saying what the arm does, shown in the report.
    public var description: String
    /// Whether the arm trains by federated rounds (and so has `rounds`).
    public var federated: Bool
    /// The final model's test metrics per site.
    public var perSite: [SiteScore]
    /// One record per federated round, in order; empty for non-federated arms.
    public var rounds: [RoundRecord]
    /// Total bytes sent from sites to the coordinator.
    public var bytesUp: Int
    /// Total bytes sent from the coordinator to sites.
    public var bytesDown: Int
    /// Wall-clock seconds the arm took.
    public var wallSeconds: Double
    /// The error text if the arm failed; `nil` if it completed.
    public var failed: String?
    /// Under differential privacy: the guarantee the run had; `nil` for other arms.
    public var privacy: ArmPrivacy?
    /// Extra per-site measurements, by site name (e.g. an adaptation arm's accuracy before and
    /// after on the site's labelled training rows, or the negative-transfer guard's choice); nil
    /// for arms that record none.
    public var siteMetrics: [String: [String: Double]]?

    /// Creates an arm result.
    public init(name: String, description: String, federated: Bool, perSite: [SiteScore],
                rounds: [RoundRecord], bytesUp: Int, bytesDown: Int, wallSeconds: Double,
                failed: String? = nil, privacy: ArmPrivacy? = nil,
                siteMetrics: [String: [String: Double]]? = nil) {
        self.name = name
        self.description = description
        self.federated = federated
        self.perSite = perSite
        self.rounds = rounds
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.wallSeconds = wallSeconds
        self.failed = failed
        self.privacy = privacy
        self.siteMetrics = siteMetrics
    }

    /// Unweighted mean of the per-site accuracies that are finite; NaN if there are none.
    public var meanAccuracy: Double { Statistics.finiteMean(perSite.map(\.accuracy)) }

    /// Unweighted mean of the per-site balanced accuracies that are finite; NaN if there are none.
    public var meanBalancedAccuracy: Double { Statistics.finiteMean(perSite.map(\.balancedAccuracy)) }

    /// Whether the arm was scored on a regression target (MAE, RMSE, R² instead of accuracy).
    public var isRegression: Bool { perSite.contains(where: \.isRegression) }

    /// Unweighted means over sites of the finite MAE, RMSE and R² (NaN where there are none).
    public var meanMAE: Double { Statistics.finiteMean(perSite.map { $0.mae ?? .nan }) }
    public var meanRMSE: Double { Statistics.finiteMean(perSite.map { $0.rmse ?? .nan }) }
    public var meanR2: Double { Statistics.finiteMean(perSite.map { $0.r2 ?? .nan }) }

    /// Total bytes (up + down) divided by the number of rounds (at least 1).
    public var bytesPerRound: Double { Double(bytesUp + bytesDown) / Double(max(rounds.count, 1)) }

    /// The score for `site`, if the arm has one.
    public func score(site: String) -> SiteScore? { perSite.first { $0.site == site } }

    enum CodingKeys: String, CodingKey {
        case name, description, federated, perSite, rounds, bytesUp, bytesDown, wallSeconds, failed, privacy, siteMetrics
    }

    /// Decodes an arm; `null` numbers become NaN (see `metrics.json` conventions).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decode(String.self, forKey: .description)
        federated = try c.decode(Bool.self, forKey: .federated)
        perSite = try c.decode([SiteScore].self, forKey: .perSite)
        rounds = try c.decode([RoundRecord].self, forKey: .rounds)
        bytesUp = try c.decode(Int.self, forKey: .bytesUp)
        bytesDown = try c.decode(Int.self, forKey: .bytesDown)
        wallSeconds = try c.decodeNumber(forKey: .wallSeconds)
        failed = try c.decodeIfPresent(String.self, forKey: .failed)
        privacy = try c.decodeIfPresent(ArmPrivacy.self, forKey: .privacy)
        siteMetrics = try c.decodeIfPresent([String: [String: Double?]].self, forKey: .siteMetrics)?.mapValues(JSONNumber.decoded)
    }

    /// Encodes an arm; non-finite numbers become `null`, and `failed` is `null` when the arm completed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(federated, forKey: .federated)
        try c.encode(perSite, forKey: .perSite)
        try c.encode(rounds, forKey: .rounds)
        try c.encode(bytesUp, forKey: .bytesUp)
        try c.encode(bytesDown, forKey: .bytesDown)
        try c.encodeNumber(wallSeconds, forKey: .wallSeconds)
        try c.encode(failed, forKey: .failed)
        try c.encode(privacy, forKey: .privacy)
        try c.encodeIfPresent(siteMetrics?.mapValues(JSONNumber.encoded), forKey: .siteMetrics)
    }

    /// Field-wise equality where NaN equals NaN.
    public static func == (a: ArmResult, b: ArmResult) -> Bool {
        a.name == b.name && a.description == b.description && a.federated == b.federated
            && a.perSite == b.perSite && a.rounds == b.rounds && a.bytesUp == b.bytesUp
            && a.bytesDown == b.bytesDown && JSONNumber.same(a.wallSeconds, b.wallSeconds)
            && a.failed == b.failed && a.privacy == b.privacy && sameSiteMetrics(a.siteMetrics, b.siteMetrics)
    }

    private static func sameSiteMetrics(_ a: [String: [String: Double]]?, _ b: [String: [String: Double]]?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return a.count == b.count && a.allSatisfy { site, values in b[site].map { JSONNumber.same(values, $0) } ?? false }
    }
}

/// The differential-privacy guarantee of a private arm, as its coordinator journaled it.
public struct ArmPrivacy: Codable, Sendable, Equatable {
    /// ε spent by the whole run, at `delta`.
    public var epsilon: Double
    public var delta: Double
    /// σ of the noise on the sum, and the clip norm C.
    public var noiseMultiplier: Double
    public var clipNorm: Double
    /// `central` or `distributed`.
    public var mode: String

    public init(epsilon: Double, delta: Double, noiseMultiplier: Double, clipNorm: Double, mode: String) {
        self.epsilon = epsilon
        self.delta = delta
        self.noiseMultiplier = noiseMultiplier
        self.clipNorm = clipNorm
        self.mode = mode
    }
}
