import XCTest
import CohortTransport
import Foundation

/// The handshake gate: bounded unauthenticated connections, eviction that keeps real nodes
/// admissible, the deadline, and the frame version checked from AUTH on.
final class HandshakeGateTests: XCTestCase {
    private let secret = NodeSecrets.hexBytes("000102030405060708090a0b0c0d0e0f")!

    /// A gate on a fresh listener, run on a thread until the returned stop function is called.
    private func startGate(limits: HandshakeLimits, admitted: Locked<String>, refusals: Locked<[String]>) throws
        -> (port: UInt16, gate: HandshakeGate, stop: () -> Void) {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let stopped = Locked(false)
        let gate = HandshakeGate(listener: listener, secrets: ["site-a": secret], tls: nil, limits: limits,
                                 admissible: { _ in true },
                                 onAdmitted: { conn, id in admitted.value = "\(id.name) \(id.samples)"; conn.close() },
                                 onRefused: { _, error in refusals.update { $0.append("\(error)") } },
                                 log: { _ in })
        let box = Unchecked(gate)
        let done = spawn { box.value.run(until: { stopped.value }) }
        return (listener.port, gate, {
            stopped.update { $0 = true }
            _ = done.wait(timeout: .now() + 5)
            listener.close()
        })
    }

    func testIdleFloodIsCappedAndARealNodeStillGetsIn() throws {
        let admitted = Locked(""), refusals = Locked<[String]>([])
        let limits = HandshakeLimits(maxPending: 8, maxPendingPerAddress: 4, deadline: 10)
        let (port, gate, stop) = try startGate(limits: limits, admitted: admitted, refusals: refusals)
        defer { stop() }
        // 60 connections that never send a byte.
        var idle: [TCPSocket] = []
        for _ in 0..<60 { idle.append(try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2)) }
        defer { idle.forEach { $0.close() } }
        let deadline = Date().addingTimeInterval(10)
        while gate.snapshot.accepted < 60 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let c = gate.snapshot
        XCTAssertEqual(c.accepted, 60)
        XCTAssertLessThanOrEqual(c.peakPending, 4, "one address holds at most maxPendingPerAddress")
        XCTAssertGreaterThanOrEqual(c.evicted, 56)
        // The gate closed the oldest ones: the peer sees them hang up.
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertFalse(idle[0].isOpen)
        XCTAssertTrue(idle[59].isOpen)
        // A real node, from the same address, is admitted.
        let conn = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2))
        defer { conn.close() }
        _ = try Handshake.connect(conn, node: "site-a", secret: secret, samples: 7, timeout: 5)
        while admitted.value.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(admitted.value, "site-a 7")
        XCTAssertTrue(refusals.value.isEmpty, "\(refusals.value)")
    }

    func testStalledHalfFramesAreEvictedBeforeANodeThatSentHello() throws {
        let admitted = Locked(""), refusals = Locked<[String]>([])
        let (port, gate, stop) = try startGate(limits: HandshakeLimits(maxPending: 4, maxPendingPerAddress: 4, deadline: 10),
                                               admitted: admitted, refusals: refusals)
        defer { stop() }
        // The node sends HELLO and gets CHALLENGE; then four stalled connections (6 bytes of a
        // header each) arrive, which evict one another, never the node.
        let conn = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2))
        defer { conn.close() }
        let hello = #"{"versions":[4],"node":"site-a","samples":5}"#
        try conn.send(Frame(version: 4, type: MessageType.hello.rawValue, payload: Array(hello.utf8)))
        let challenge = try Handshake.expect(conn, .challenge, timeout: 5)
        var stalled: [TCPSocket] = []
        for _ in 0..<12 {
            let s = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2)
            try s.write(Array("CHRT\u{3}\u{0}".utf8), timeout: 1)
            stalled.append(s)
        }
        defer { stalled.forEach { $0.close() } }
        let deadline = Date().addingTimeInterval(10)
        while gate.snapshot.accepted < 13 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertGreaterThanOrEqual(gate.snapshot.evicted, 9)
        struct C: Decodable { var challenge: String }
        let nonce = NodeSecrets.hexBytes(try JSONDecoder().decode(C.self, from: Data(challenge.payload)).challenge)!
        let answer = NodeSecrets.response(secret: secret, node: "site-a", challenge: nonce).map { String(format: "%02x", $0) }.joined()
        try conn.send(Frame(version: 4, type: MessageType.auth.rawValue, payload: Array(#"{"response":"\#(answer)"}"#.utf8)))
        _ = try Handshake.expect(conn, .welcome, timeout: 5)
        while admitted.value.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(admitted.value, "site-a 5")
    }

    func testUnauthenticatedConnectionsAreClosedAtTheDeadline() throws {
        let admitted = Locked(""), refusals = Locked<[String]>([])
        let (port, gate, stop) = try startGate(limits: HandshakeLimits(maxPending: 8, maxPendingPerAddress: 8, deadline: 0.3),
                                               admitted: admitted, refusals: refusals)
        defer { stop() }
        let s = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2)
        defer { s.close() }
        XCTAssertThrowsError(try s.read(exactly: 1, timeout: 5)) {
            XCTAssertEqual(($0 as? TransportError)?.kind, .closedByPeer, "\($0)")
        }
        let deadline = Date().addingTimeInterval(5)   // the socket is closed before the count moves
        while gate.snapshot.expired == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(gate.snapshot.expired, 1)
    }

    func testAuthWithAnotherFrameVersionIsRefused() throws {
        let admitted = Locked(""), refusals = Locked<[String]>([])
        let (port, _, stop) = try startGate(limits: HandshakeLimits(), admitted: admitted, refusals: refusals)
        defer { stop() }
        let conn = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2))
        defer { conn.close() }
        let hello = #"{"versions":[4],"node":"site-a","samples":5}"#
        try conn.send(Frame(version: 4, type: MessageType.hello.rawValue, payload: Array(hello.utf8)))
        let challenge = try Handshake.expect(conn, .challenge, timeout: 5)
        struct C: Decodable { var challenge: String }
        let nonce = NodeSecrets.hexBytes(try JSONDecoder().decode(C.self, from: Data(challenge.payload)).challenge)!
        let answer = NodeSecrets.response(secret: secret, node: "site-a", challenge: nonce).map { String(format: "%02x", $0) }.joined()
        // A correct answer in a frame of another version.
        try conn.send(Frame(version: 2, type: MessageType.auth.rawValue, payload: Array(#"{"response":"\#(answer)"}"#.utf8)))
        XCTAssertThrowsError(try Handshake.expect(conn, .welcome, timeout: 5)) {
            XCTAssertTrue("\($0)".contains("frame of protocol version 2 on a connection that agreed on version 4"), "\($0)")
        }
        let deadline = Date().addingTimeInterval(5)   // the ERROR goes out before the gate reports
        while refusals.value.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(admitted.value, "")
        XCTAssertEqual(refusals.value, [FrameError.unexpectedVersion(got: 2, expected: 4).description])
    }

    func testBlockingAcceptAlsoChecksTheAuthFrameVersion() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let outcome = LockedString()
        let box = Unchecked((listener, secret))
        let done = spawn {
            guard let s = try? box.value.0.accept(timeout: 5) else { return }
            do { _ = try Handshake.accept(FramedConnection(stream: s), secrets: ["site-a": box.value.1], timeout: 3); outcome.set("welcomed") }
            catch { outcome.set("\(error)") }
        }
        let conn = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: listener.port, timeout: 2))
        defer { conn.close() }
        try conn.send(Frame(version: 4, type: MessageType.hello.rawValue, payload: Array(#"{"versions":[4],"node":"site-a","samples":5}"#.utf8)))
        let challenge = try Handshake.expect(conn, .challenge, timeout: 5)
        struct C: Decodable { var challenge: String }
        let nonce = NodeSecrets.hexBytes(try JSONDecoder().decode(C.self, from: Data(challenge.payload)).challenge)!
        let answer = NodeSecrets.response(secret: secret, node: "site-a", challenge: nonce).map { String(format: "%02x", $0) }.joined()
        try conn.send(Frame(version: 2, type: MessageType.auth.rawValue, payload: Array(#"{"response":"\#(answer)"}"#.utf8)))
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(outcome.value, FrameError.unexpectedVersion(got: 2, expected: 4).description)
    }

    func testLimitsFittedToTheDescriptorLimitLeaveTheReserve() {
        let small = HandshakeLimits.fitted(descriptorLimit: 128, sessions: 2)
        XCTAssertEqual(small.maxPending, 128 - HandshakeLimits.reservedDescriptors - 4)
        XCTAssertEqual(small.maxPendingPerAddress, small.maxPending / 2)
        XCTAssertEqual(HandshakeLimits.fitted(descriptorLimit: 1024, sessions: 10).maxPending, HandshakeLimits.defaultMaxPending)
        XCTAssertEqual(HandshakeLimits.fitted(descriptorLimit: 40, sessions: 10).maxPending, 4)
    }
}
