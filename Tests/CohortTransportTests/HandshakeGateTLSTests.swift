import XCTest
@testable import CohortTransport
import Foundation

/// The handshake gate under TLS: TLS handshakes run in the gate's poll loop, so connections
/// that stall inside one (silent, part of a ClientHello, a whole ClientHello and then nothing)
/// hold no thread, and a real node is served while they are held. (Before, each stalled
/// connection that had sent a byte held one of 4 handshake threads until the 10 s deadline.)
final class HandshakeGateTLSTests: XCTestCase {
    private let secret = NodeSecrets.hexBytes("000102030405060708090a0b0c0d0e0f")!

    private func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")).path
    }

    private func startGate(limits: HandshakeLimits, admitted: Locked<[String]>, refusals: Locked<[String]>) throws
        -> (port: UInt16, gate: HandshakeGate, stop: () -> Void) {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let tls = try TLSContext.server(certificate: try fixture("coordinator.pem"), privateKey: try fixture("coordinator.key"))
        let stopped = Locked(false)
        let gate = HandshakeGate(listener: listener, secrets: ["site-a": secret], tls: tls, limits: limits,
                                 admissible: { _ in true },
                                 onAdmitted: { conn, id in
                                     // The session goes on over the same TLS stream: answer one frame.
                                     let box = Unchecked(conn)
                                     Thread {
                                         if let f = try? box.value.receive(timeout: 5) { try? box.value.send(f) }
                                         box.value.close()
                                     }.start()
                                     admitted.update { $0.append("\(id.name) \(id.samples)") }
                                 },
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

    /// A real node over TLS: TLS handshake, HELLO/CHALLENGE/AUTH/WELCOME, then one echoed frame.
    private func realNode(port: UInt16) throws -> [UInt8] {
        let client = try TLSContext.client(trustedCA: try fixture("ca.pem"))
        let stream = try TLSStream(socket: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2), context: client,
                                   serverName: "127.0.0.1", timeout: 5)
        let conn = FramedConnection(stream: stream)
        defer { conn.close() }
        _ = try Handshake.connect(conn, node: "site-a", secret: secret, samples: 7, timeout: 5)
        try conn.send(Frame(version: 4, type: 200, payload: [1, 2, 3]))
        return try conn.receive(timeout: 5).payload
    }

    func testStalledTLSHandshakesHoldNoThreadAndARealNodeGetsIn() throws {
        let admitted = Locked<[String]>([]), refusals = Locked<[String]>([])
        let (port, gate, stop) = try startGate(limits: HandshakeLimits(maxPending: 64, maxPendingPerAddress: 64, deadline: 10),
                                               admitted: admitted, refusals: refusals)
        defer { stop() }
        let client = try TLSContext.client(trustedCA: try fixture("ca.pem"))
        var silent: [TCPSocket] = [], partial: [TCPSocket] = [], hellos: [TLSStream] = []
        defer { (silent + partial).forEach { $0.close() }; hellos.forEach { $0.close() } }
        for _ in 0..<6 {
            // Connect and say nothing.
            silent.append(try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2))
            // A TLS record header announcing a 512-byte handshake record, and 10 bytes of it.
            let s = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2)
            try s.write([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0], timeout: 1)
            partial.append(s)
            // A whole ClientHello, then silence.
            let t = try TLSStream(unshaken: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2), context: client,
                                  serverName: "127.0.0.1")
            _ = try t.handshakeStep()   // sends the ClientHello (a loaded machine may even see the reply)
            hellos.append(t)
        }
        var deadline = Date().addingTimeInterval(5)
        while gate.snapshot.accepted < 18 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(gate.snapshot.accepted, 18)

        // With 12 stalled handshakes held (more than the 4 threads there used to be), a real
        // node completes TLS and the session handshake within its 5 s timeouts, half the
        // gate's 10 s deadline, and its session goes on over the same stream.
        XCTAssertEqual(try realNode(port: port), [1, 2, 3])
        deadline = Date().addingTimeInterval(5)
        while admitted.value.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(admitted.value, ["site-a 7"])
        let c = gate.snapshot
        XCTAssertEqual(c.evicted + c.expired + c.closedByPeer + c.tlsFailed, 0, "every stalled connection is still held: \(c)")
        XCTAssertTrue((silent + partial).allSatisfy { $0.isOpen })
        XCTAssertTrue(refusals.value.isEmpty, "\(refusals.value)")
    }

    func testStalledHandshakesAreEvictedBeforeANodeThatMovesOn() throws {
        let admitted = Locked<[String]>([]), refusals = Locked<[String]>([])
        let (port, gate, stop) = try startGate(limits: HandshakeLimits(maxPending: 4, maxPendingPerAddress: 4, deadline: 10),
                                               admitted: admitted, refusals: refusals)
        defer { stop() }
        let client = try TLSContext.client(trustedCA: try fixture("ca.pem"))
        func stalledHello() throws -> TLSStream {
            let t = try TLSStream(unshaken: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2), context: client,
                                  serverName: "127.0.0.1")
            _ = try t.handshakeStep()   // sends the ClientHello
            return t
        }
        func waitAccepted(_ n: Int) {
            let deadline = Date().addingTimeInterval(5)
            while gate.snapshot.accepted < n && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            Thread.sleep(forTimeInterval: 0.1)   // the gate answers what arrived
        }
        // Four whole ClientHellos that then stall fill the cap.
        var hellos: [TLSStream] = []
        defer { hellos.forEach { $0.close() } }
        for _ in 0..<4 { hellos.append(try stalledHello()) }
        waitAccepted(4)
        // The node's ClientHello arrives (evicting the first), and is answered; then three more
        // stalled ones arrive, each evicting whichever has stood still longest: the three
        // older stalled ones, not the node, whose handshake moved on after theirs.
        let node = try stalledHello()
        waitAccepted(5)
        for _ in 0..<3 { hellos.append(try stalledHello()) }
        waitAccepted(8)
        XCTAssertEqual(gate.snapshot.evicted, 4)
        XCTAssertFalse(hellos[0].isOpen || hellos[1].isOpen || hellos[2].isOpen || hellos[3].isOpen, "the four first are closed")
        XCTAssertTrue(hellos[4].isOpen && hellos[5].isOpen && hellos[6].isOpen)
        var deadline = Date()
        // The node finishes TLS and authenticates.
        var step = Attempt.wantRead
        deadline = Date().addingTimeInterval(5)
        while step != .done(1) && Date() < deadline {
            step = try node.handshakeStep()
            if step != .done(1) { Thread.sleep(forTimeInterval: 0.01) }
        }
        XCTAssertEqual(step, .done(1))
        let conn = FramedConnection(stream: node)
        defer { conn.close() }
        _ = try Handshake.connect(conn, node: "site-a", secret: secret, samples: 3, timeout: 5)
        deadline = Date().addingTimeInterval(5)
        while admitted.value.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(admitted.value, ["site-a 3"])
    }

    func testNotTLSIsCountedNotLoggedAndAStalledHandshakeMeetsTheDeadline() throws {
        let admitted = Locked<[String]>([]), refusals = Locked<[String]>([])
        let (port, gate, stop) = try startGate(limits: HandshakeLimits(maxPending: 8, maxPendingPerAddress: 8, deadline: 0.5),
                                               admitted: admitted, refusals: refusals)
        defer { stop() }
        let plain = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2)
        defer { plain.close() }
        try plain.write(Array("GET / HTTP/1.0\r\n\r\n".utf8), timeout: 1)
        let client = try TLSContext.client(trustedCA: try fixture("ca.pem"))
        let stalled = try TLSStream(unshaken: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2), context: client,
                                    serverName: "127.0.0.1")
        defer { stalled.close() }
        _ = try stalled.handshakeStep()   // sends the ClientHello
        let deadline = Date().addingTimeInterval(5)
        while (gate.snapshot.tlsFailed < 1 || gate.snapshot.expired < 1) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(gate.snapshot.tlsFailed, 1)
        XCTAssertEqual(gate.snapshot.expired, 1)
        XCTAssertTrue(refusals.value.isEmpty, "\(refusals.value)")
        XCTAssertTrue(admitted.value.isEmpty)
    }
}

private typealias Attempt = TLSStream.Attempt
