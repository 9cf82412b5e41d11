/// Frame message types (the `type` field of a frame). Values are part of the wire format.
public enum MessageType: UInt16, Sendable, CaseIterable {
    case hello = 1, challenge = 2, auth = 3, welcome = 4
    case model = 5, update = 6, evaluate = 7, evalResult = 8
    case heartbeat = 9, error = 10, bye = 11
    /// Secure aggregation (protocols/secure-aggregation.md): node keys, the roster, share
    /// bundles, their routing, the masked input (streamed), the survivors, the unmasking shares,
    /// an abort; and a node leaving a round it cannot finish (it stays connected).
    case secaggKeys = 12, secaggRoster = 13, secaggShares = 14, secaggBundles = 15
    case secaggMasked = 16, secaggSurvivors = 17, secaggUnmask = 18, secaggAbort = 19
    /// A piece of a streamed message (`StreamedMessage`).
    case chunk = 20
    case secaggLeave = 21
    /// The statistics round before round 1 (protocols/wire.md, "Statistics round"): the
    /// coordinator's request, a node's statistics, and the fitted preprocessing every node applies.
    case statsRequest = 22, stats = 23, preprocessing = 24
    /// Secure aggregation's consistency round: a node's signature of the survivor set it was shown.
    case secaggSignature = 30

    /// The secure-aggregation messages (types 12–19, 21 and 30).
    public var isSecureAggregation: Bool { (12...19).contains(rawValue) || self == .secaggLeave || self == .secaggSignature }
}

/// Protocol versions this build speaks, newest last.
public enum ProtocolVersion {
    /// Version 2 streams MODEL, UPDATE and EVALUATE as a start frame and CHUNK frames
    /// (version 1 sent each as one frame). Version 3 lets MODEL and EVALUATE carry only the
    /// tensors changed since the node's last version, with the whole model's SHA-256.
    /// Version 4 replaces that SHA-256 with `modelDigest`, block CRC-32Cs hashed together (a
    /// digest at memory speed; the threat it covers is corruption, TLS and HMAC cover tampering).
    public static let supported: [UInt16] = [4]
    public static var current: UInt16 { supported.last! }
}
