import CohortTransport
import FuzzSupport

/// The session handshake from both ends: the coordinator's `Handshake.accept` reading HELLO
/// and AUTH from the input, and the node's `Handshake.connect` reading CHALLENGE and WELCOME
/// (or ERROR) from it. Each input is tried as sent and with every frame's CRC recomputed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHandshake(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput.bytes(data, size)
    for bytes in [input, Checksums.withFrameCRCs(input)] {
        let coordinator = FramedConnection(stream: MemoryStream(bytes), maxPayload: 1 << 16, readTimeout: 1, writeTimeout: 1)
        _ = try? Handshake.accept(coordinator, secrets: handshakeSecrets, timeout: 1)
        let node = FramedConnection(stream: MemoryStream(bytes), maxPayload: 1 << 16, readTimeout: 1, writeTimeout: 1)
        _ = try? Handshake.connect(node, node: "site-a", secret: handshakeSecrets["site-a"]!, samples: 10, timeout: 1)
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzHandshakeInit(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    FuzzInput.writeSeedsIfAsked(handshakeSeeds)
    return 0
}

let handshakeSecrets: [String: [UInt8]] = ["site-a": [UInt8](repeating: 7, count: 32), "site-b": [UInt8](repeating: 9, count: 32)]

/// Real handshake traffic: what a node sends (HELLO then AUTH) and what a coordinator sends
/// (CHALLENGE then WELCOME, or ERROR), recorded from the library's own `connect`/`accept`.
func handshakeSeeds() throws -> [(name: String, bytes: [UInt8])] {
    let v = ProtocolVersion.current
    func frame(_ type: MessageType, _ json: String) -> [UInt8] { Frame(version: v, type: type.rawValue, payload: Array(json.utf8)).encoded() }
    let challenge = frame(.challenge, #"{"version":3,"challenge":"\#(String(repeating: "ab", count: 32))"}"#)
    let welcome = frame(.welcome, #"{"session":"00112233445566778899aabbccddeeff"}"#)
    // The node side, as `connect` writes it: HELLO, then AUTH answering `challenge`.
    let node = MemoryStream(challenge + welcome, recording: true)
    _ = try Handshake.connect(FramedConnection(stream: node), node: "site-a", secret: handshakeSecrets["site-a"]!, samples: 1200)
    // The coordinator side, as `accept` writes it to that node (CHALLENGE, then ERROR: the
    // recorded AUTH answers another challenge).
    let coordinator = MemoryStream(node.written, recording: true)
    _ = try? Handshake.accept(FramedConnection(stream: coordinator), secrets: handshakeSecrets)
    return [
        ("node-hello-auth", node.written),
        ("coordinator-challenge-welcome", challenge + welcome),
        ("coordinator-challenge-error", coordinator.written),
        ("error", frame(.error, #"{"message":"authentication failed"}"#)),
    ]
}
