/// Frame message types (the `type` field of a frame). Values are part of the wire format.
public enum MessageType: UInt16, Sendable, CaseIterable {
    case hello = 1, challenge = 2, auth = 3, welcome = 4
    case model = 5, update = 6, evaluate = 7, evalResult = 8
    case heartbeat = 9, error = 10, bye = 11
}

/// Protocol versions this build speaks, newest last.
public enum ProtocolVersion {
    public static let supported: [UInt16] = [1]
    public static var current: UInt16 { supported.last! }
}
