import Foundation

/// The first exchange on a connection: version negotiation and node authentication.
///
/// ```
/// node → HELLO     {"versions": [1], "node": "site-a", "samples": 1200}
/// coord → CHALLENGE {"version": 1, "challenge": "<32 random bytes, hex>"}    or ERROR
/// node → AUTH      {"response": "<HMAC-SHA256 hex>"}
/// coord → WELCOME   {"session": "<hex>"}                                       or ERROR
/// ```
/// Every payload is JSON. Any failure sends an ERROR frame (`{"message": …}`) naming the reason
/// before closing, so the node's operator sees why it was refused.
public enum Handshake {
    /// What the coordinator learns about an authenticated node.
    public struct NodeIdentity: Equatable, Sendable {
        public var name: String
        public var samples: Int
        public var version: UInt16
        public var session: String
    }

    struct Hello: Codable { var versions: [UInt16]; var node: String; var samples: Int }
    struct Challenge: Codable { var version: UInt16; var challenge: String }
    struct Auth: Codable { var response: String }
    struct Welcome: Codable { var session: String }
    /// The payload of an ERROR frame.
    public struct ErrorMessage: Codable, Sendable {
        public var message: String
        public init(message: String) { self.message = message }
    }

    /// Coordinator side: negotiates, challenges, verifies against `secrets`. Throws (after
    /// sending an ERROR frame) when the node cannot be admitted.
    ///
    /// `admissible(name)` is asked once the node has proved its secret, before WELCOME: false
    /// (the name already has a live session) gets the same ERROR as a wrong secret and throws
    /// `NameInUse`, so the caller can log a warning.
    public static func accept(_ conn: FramedConnection, secrets: [String: [UInt8]], timeout: Double = 10,
                              admissible: (String) -> Bool = { _ in true }) throws -> NodeIdentity {
        let challenged = try answerHello(conn, try conn.receive(timeout: timeout), secrets: secrets)
        return try finish(conn, challenged, reply: try conn.receive(timeout: timeout), admissible: admissible)
    }

    /// A node that sent an acceptable HELLO and was sent a CHALLENGE; `finish` checks its AUTH.
    public struct Challenged: Sendable {
        public let name: String
        public let samples: Int
        /// The version agreed: the AUTH frame must carry it.
        public let version: UInt16
        let challenge: [UInt8]
        let secret: [UInt8]
    }

    /// Coordinator side, first step: checks the HELLO frame `first` and sends CHALLENGE. Throws
    /// (after sending an ERROR frame) when the node cannot be admitted. Does not read from `conn`,
    /// so a caller that collects frames without blocking (`HandshakeGate`) can drive it.
    public static func answerHello(_ conn: FramedConnection, _ first: Frame, secrets: [String: [UInt8]]) throws -> Challenged {
        guard first.type == MessageType.hello.rawValue else {
            throw refuse(conn, "expected HELLO (type 1) as the first message, got type \(first.type)")
        }
        guard let hello = try? JSONDecoder().decode(Hello.self, from: Data(first.payload)) else {
            throw refuse(conn, "malformed HELLO payload")
        }
        guard let version = hello.versions.filter({ ProtocolVersion.supported.contains($0) }).max() else {
            throw refuse(conn, "no common protocol version: node speaks \(hello.versions), coordinator speaks \(ProtocolVersion.supported)")
        }
        guard NodeName.isValid(hello.node) else {
            throw refuse(conn, "node names are \(NodeName.rule); the name sent is not", version: version)
        }
        // Unknown names and wrong secrets get the same answer, so an outsider cannot learn
        // which names exist; the detail goes to the coordinator's log only.
        guard let secret = secrets[hello.node] else {
            throw refuse(conn, authenticationFailed, detail: "unknown node '\(hello.node)'", version: version)
        }
        guard (0...1_000_000_000).contains(hello.samples) else {
            throw refuse(conn, "sample count \(hello.samples) is outside 0...1000000000", version: version)
        }
        let challenge = NodeSecrets.randomBytes(32)
        try send(conn, .challenge, Challenge(version: version, challenge: hex(challenge)), version: version)
        // From here on every frame must carry the agreed version (AUTH included).
        conn.expectedVersion = version
        return Challenged(name: hello.node, samples: hello.samples, version: version, challenge: challenge, secret: secret)
    }

    /// Coordinator side, second step: checks the AUTH frame `reply` and sends WELCOME.
    ///
    /// `admissible(name)` is asked once the node has proved its secret, before WELCOME: false
    /// (the name already has a live session) gets the same ERROR as a wrong secret and throws
    /// `NameInUse`, so the caller can log a warning. A reply whose frame version is not the
    /// agreed one is refused (`FrameError.unexpectedVersion`).
    public static func finish(_ conn: FramedConnection, _ c: Challenged, reply: Frame,
                              admissible: (String) -> Bool = { _ in true }) throws -> NodeIdentity {
        guard reply.version == c.version else {
            let error = FrameError.unexpectedVersion(got: reply.version, expected: c.version)
            _ = refuse(conn, "\(error)", version: c.version)
            throw error
        }
        guard reply.type == MessageType.auth.rawValue, let auth = try? JSONDecoder().decode(Auth.self, from: Data(reply.payload)),
              let answer = NodeSecrets.hexBytes(auth.response) else {
            throw refuse(conn, "expected AUTH with a hex response", version: c.version)
        }
        guard NodeSecrets.verify(secret: c.secret, node: c.name, challenge: c.challenge, answer: answer) else {
            throw refuse(conn, authenticationFailed, detail: "wrong secret for node '\(c.name)'", version: c.version)
        }
        guard admissible(c.name) else {
            _ = refuse(conn, authenticationFailed, version: c.version)
            throw NameInUse(peer: conn.stream.peer, name: c.name)
        }
        let session = hex(NodeSecrets.randomBytes(16))
        try send(conn, .welcome, Welcome(session: session), version: c.version)
        return NodeIdentity(name: c.name, samples: c.samples, version: c.version, session: session)
    }

    /// Node side: introduces itself and proves its secret. Returns the session id; throws the
    /// coordinator's ERROR message when refused.
    public static func connect(_ conn: FramedConnection, node: String, secret: [UInt8], samples: Int,
                               versions: [UInt16] = ProtocolVersion.supported, timeout: Double = 10) throws -> (version: UInt16, session: String) {
        try send(conn, .hello, Hello(versions: versions, node: node, samples: samples), version: versions.max() ?? 1)
        let challengeFrame = try expect(conn, .challenge, timeout: timeout)
        guard let challenge = try? JSONDecoder().decode(Challenge.self, from: Data(challengeFrame.payload)),
              let nonce = NodeSecrets.hexBytes(challenge.challenge), nonce.count >= 16 else {
            throw TransportError("\(conn.stream.peer): malformed CHALLENGE")
        }
        try send(conn, .auth, Auth(response: hex(NodeSecrets.response(secret: secret, node: node, challenge: nonce))), version: challenge.version)
        let welcomeFrame = try expect(conn, .welcome, timeout: timeout)
        guard let welcome = try? JSONDecoder().decode(Welcome.self, from: Data(welcomeFrame.payload)) else {
            throw TransportError("\(conn.stream.peer): malformed WELCOME")
        }
        conn.expectedVersion = challenge.version
        return (challenge.version, welcome.session)
    }

    /// Receives a frame of `type`, turning an ERROR frame into a thrown error with its message.
    public static func expect(_ conn: FramedConnection, _ type: MessageType, timeout: Double) throws -> Frame {
        let frame = try conn.receive(timeout: timeout)
        if frame.type == MessageType.error.rawValue {
            let message = (try? JSONDecoder().decode(ErrorMessage.self, from: Data(frame.payload)))?.message ?? "unreadable ERROR frame"
            throw HandshakeRefusal(peer: conn.stream.peer, message: message)
        }
        guard frame.type == type.rawValue else {
            throw TransportError("\(conn.stream.peer): expected \(type) (type \(type.rawValue)), got type \(frame.type)")
        }
        return frame
    }

    /// What a node is told when its name is unknown or its secret wrong (the same for both).
    public static let authenticationFailed = "authentication failed (unknown node name or wrong secret)"


    /// Sends `message` to the peer in an ERROR frame (best effort) and returns the error to throw locally,
    /// which also carries `detail` (for the local log only).
    public static func refuse(_ conn: FramedConnection, _ message: String, detail: String? = nil,
                              version: UInt16 = ProtocolVersion.current) -> TransportError {
        try? send(conn, .error, ErrorMessage(message: message), version: version)
        return TransportError("\(conn.stream.peer): \(message)" + (detail.map { ": \($0)" } ?? ""))
    }

    static func send<T: Encodable>(_ conn: FramedConnection, _ type: MessageType, _ value: T, version: UInt16) throws {
        try conn.send(Frame(version: version, type: type.rawValue, payload: Array(try JSONEncoder().encode(value))))
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

/// The coordinator refused an authenticated node because its name already has a live session
/// (a second process under the same name). The peer was sent the generic refusal. `name` has
/// passed `NodeName.isValid`, so it is safe to log.
public struct NameInUse: Error, CustomStringConvertible, Sendable {
    public let peer: String
    public let name: String
    public init(peer: String, name: String) { self.peer = peer; self.name = name }
    public var description: String {
        "\(peer): \(Handshake.authenticationFailed): node '\(name)' already has a live session; a second connection under its name is refused"
    }
}

/// The peer answered the handshake with an ERROR frame (wrong secret, unknown name, no common
/// version): retrying will not help. Its message is the peer's text, for people only.
public struct HandshakeRefusal: Error, CustomStringConvertible, Sendable {
    public let peer: String
    public let message: String
    public var description: String { "refused by \(peer): \(message)" }
}
