/// What happened in one federated round of an arm.
public struct RoundRecord: Codable, Sendable, Equatable {
    /// The round number, counted from 1.
    public var round: Int
    /// Test accuracy per site name of the global model at the end of this round (NaN if not measured).
    public var perSiteAccuracy: [String: Double]
    /// Bytes sent from the sites to the coordinator in this round.
    public var bytesUp: Int
    /// Bytes sent from the coordinator to the sites in this round.
    public var bytesDown: Int
    /// Wall-clock seconds the round took.
    public var seconds: Double
    /// Number of sites whose update was aggregated in this round.
    public var participants: Int

    /// Creates a round record.
    public init(round: Int, perSiteAccuracy: [String: Double], bytesUp: Int, bytesDown: Int,
                seconds: Double, participants: Int) {
        self.round = round
        self.perSiteAccuracy = perSiteAccuracy
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.seconds = seconds
        self.participants = participants
    }

    /// Unweighted mean of `perSiteAccuracy` over the sites with a finite value; NaN if none.
    public var meanAccuracy: Double { Statistics.finiteMean(perSiteAccuracy.values) }

    enum CodingKeys: String, CodingKey { case round, perSiteAccuracy, bytesUp, bytesDown, seconds, participants }

    /// Decodes a round; `null` numbers become NaN (see `metrics.json` conventions).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        round = try c.decode(Int.self, forKey: .round)
        perSiteAccuracy = try c.decodeNumberMap(forKey: .perSiteAccuracy)
        bytesUp = try c.decode(Int.self, forKey: .bytesUp)
        bytesDown = try c.decode(Int.self, forKey: .bytesDown)
        seconds = try c.decodeNumber(forKey: .seconds)
        participants = try c.decode(Int.self, forKey: .participants)
    }

    /// Encodes a round; non-finite numbers become `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(round, forKey: .round)
        try c.encodeNumbers(perSiteAccuracy, forKey: .perSiteAccuracy)
        try c.encode(bytesUp, forKey: .bytesUp)
        try c.encode(bytesDown, forKey: .bytesDown)
        try c.encodeNumber(seconds, forKey: .seconds)
        try c.encode(participants, forKey: .participants)
    }

    /// Field-wise equality where NaN equals NaN.
    public static func == (a: RoundRecord, b: RoundRecord) -> Bool {
        a.round == b.round && JSONNumber.same(a.perSiteAccuracy, b.perSiteAccuracy)
            && a.bytesUp == b.bytesUp && a.bytesDown == b.bytesDown
            && JSONNumber.same(a.seconds, b.seconds) && a.participants == b.participants
    }
}
