/// Everything `cohort simulate` measured in one run: the sites, every arm's scores and rounds,
/// and the domain-shift view. `ReportWriter` turns it into `report.html`, `metrics.json` and
/// `rounds.csv`.
///
/// Non-finite numbers are allowed anywhere (NaN marks "not measured"); they are written to
/// `metrics.json` as `null` and read back as NaN, and `==` treats NaN as equal to NaN.
public struct SimulationResults: Codable, Sendable, Equatable {
    /// Title shown at the top of the report.
    public var title: String
    /// The kind of simulated data: `"imaging"` or `"tabular"`.
    public var kind: String
    /// The run's seed.
    public var seed: UInt64
    /// Whether the run used the reduced `--quick` settings.
    public var quick: Bool
    /// The number of federated rounds configured for the run.
    public var rounds: Int
    /// Free-form run settings shown in the report (model, local epochs, learning rate, codec, ...).
    public var settings: [String: String]
    /// The simulated sites, in display order.
    public var sites: [SiteInfo]
    /// The arms, in display order.
    public var arms: [ArmResult]
    /// The domain-shift view, if it was computed.
    public var shift: ShiftView?
    /// When the run started, ISO 8601.
    public var startedAt: String
    /// Wall-clock seconds of the whole run.
    public var wallSeconds: Double
    /// Free-form remarks shown in the report (warnings, caveats).
    public var notes: [String]

    /// Creates a results value.
    /// Whether the run scored a regression target: the report shows MAE, RMSE and R² per arm
    /// instead of accuracy.
    public var isRegression: Bool { arms.contains(where: \.isRegression) }

    public init(title: String, kind: String, seed: UInt64, quick: Bool, rounds: Int,
                settings: [String: String], sites: [SiteInfo], arms: [ArmResult], shift: ShiftView?,
                startedAt: String, wallSeconds: Double, notes: [String]) {
        self.title = title
        self.kind = kind
        self.seed = seed
        self.quick = quick
        self.rounds = rounds
        self.settings = settings
        self.sites = sites
        self.arms = arms
        self.shift = shift
        self.startedAt = startedAt
        self.wallSeconds = wallSeconds
        self.notes = notes
    }

    /// The arm called `name`, if any.
    public func arm(named name: String) -> ArmResult? { arms.first { $0.name == name } }

    enum CodingKeys: String, CodingKey {
        case title, kind, seed, quick, rounds, settings, sites, arms, shift, startedAt, wallSeconds, notes
    }

    /// Decodes results; `null` numbers become NaN.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        title = try c.decode(String.self, forKey: .title)
        kind = try c.decode(String.self, forKey: .kind)
        seed = try c.decode(UInt64.self, forKey: .seed)
        quick = try c.decode(Bool.self, forKey: .quick)
        rounds = try c.decode(Int.self, forKey: .rounds)
        settings = try c.decode([String: String].self, forKey: .settings)
        sites = try c.decode([SiteInfo].self, forKey: .sites)
        arms = try c.decode([ArmResult].self, forKey: .arms)
        shift = try c.decodeIfPresent(ShiftView.self, forKey: .shift)
        startedAt = try c.decode(String.self, forKey: .startedAt)
        wallSeconds = try c.decodeNumber(forKey: .wallSeconds)
        notes = try c.decode([String].self, forKey: .notes)
    }

    /// Encodes results; non-finite numbers become `null`, and a missing shift view is `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(title, forKey: .title)
        try c.encode(kind, forKey: .kind)
        try c.encode(seed, forKey: .seed)
        try c.encode(quick, forKey: .quick)
        try c.encode(rounds, forKey: .rounds)
        try c.encode(settings, forKey: .settings)
        try c.encode(sites, forKey: .sites)
        try c.encode(arms, forKey: .arms)
        try c.encode(shift, forKey: .shift)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encodeNumber(wallSeconds, forKey: .wallSeconds)
        try c.encode(notes, forKey: .notes)
    }

    /// Field-wise equality where NaN equals NaN.
    public static func == (a: SimulationResults, b: SimulationResults) -> Bool {
        a.title == b.title && a.kind == b.kind && a.seed == b.seed && a.quick == b.quick
            && a.rounds == b.rounds && a.settings == b.settings && a.sites == b.sites && a.arms == b.arms
            && a.shift == b.shift && a.startedAt == b.startedAt
            && JSONNumber.same(a.wallSeconds, b.wallSeconds) && a.notes == b.notes
    }
}
