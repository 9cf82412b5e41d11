import XCTest
import CohortTransport
import Foundation

final class HandshakeTests: XCTestCase {
    private let secrets = ["site-a": NodeSecrets.hexBytes("000102030405060708090a0b0c0d0e0f")!]

    /// Runs the coordinator side for one connection on a thread; returns its outcome.
    private func coordinator(_ client: (FramedConnection) throws -> Void) throws -> String {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let outcome = LockedString()
        let done = DispatchSemaphore(value: 0)
        let box = Unchecked((listener: listener, secrets: secrets))
        Thread {
            defer { done.signal() }
            guard let s = try? box.value.listener.accept(timeout: 5) else { outcome.set("no connection"); return }
            do {
                let id = try Handshake.accept(FramedConnection(stream: s), secrets: box.value.secrets, timeout: 3)
                outcome.set("welcomed \(id.name) v\(id.version) samples \(id.samples)")
            } catch { outcome.set("\(error)") }
        }.start()
        let conn = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: listener.port, timeout: 2))
        try client(conn)
        conn.close()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        return outcome.value
    }

    func testRightSecretIsWelcomed() throws {
        let result = try coordinator { conn in
            let (version, session) = try Handshake.connect(conn, node: "site-a", secret: secrets["site-a"]!, samples: 120)
            XCTAssertEqual(version, 4)
            XCTAssertEqual(session.count, 32)
        }
        XCTAssertEqual(result, "welcomed site-a v4 samples 120")
    }

    func testWrongSecretUnknownNodeAndVersionAreRefusedWithReasons() throws {
        var wrong = secrets["site-a"]!; wrong[15] ^= 1
        // An unknown name and a wrong secret get the same answer; only the coordinator's log
        // says which it was.
        var result = try coordinator { conn in
            XCTAssertThrowsError(try Handshake.connect(conn, node: "site-a", secret: wrong, samples: 1)) {
                XCTAssertTrue("\($0)".hasSuffix("authentication failed (unknown node name or wrong secret)"), "\($0)")
            }
        }
        XCTAssertTrue(result.hasSuffix("authentication failed (unknown node name or wrong secret): wrong secret for node 'site-a'"), result)
        result = try coordinator { conn in
            XCTAssertThrowsError(try Handshake.connect(conn, node: "site-z", secret: wrong, samples: 1)) {
                XCTAssertTrue("\($0)".hasSuffix("authentication failed (unknown node name or wrong secret)"), "\($0)")
            }
        }
        XCTAssertTrue(result.hasSuffix("authentication failed (unknown node name or wrong secret): unknown node 'site-z'"), result)
        // A name with control characters is refused before anything logs it.
        result = try coordinator { conn in
            XCTAssertThrowsError(try Handshake.connect(conn, node: "site-a\n2026-12-07 forged line\u{1B}[2J", secret: wrong, samples: 1)) {
                XCTAssertTrue("\($0)".hasSuffix("node names are 1–64 characters of A–Z a–z 0–9 . _ -; the name sent is not"), "\($0)")
            }
        }
        XCTAssertFalse(result.contains("forged"), result)
        XCTAssertFalse(result.contains("\n"), result)
        result = try coordinator { conn in
            XCTAssertThrowsError(try Handshake.connect(conn, node: "site-a", secret: wrong, samples: 1, versions: [7, 9])) {
                XCTAssertTrue("\($0)".hasSuffix("no common protocol version: node speaks [7, 9], coordinator speaks [4]"), "\($0)")
            }
        }
        XCTAssertTrue(result.contains("no common protocol version"), result)
        // A version-1 node (one frame per model), a version-2 node (no MODEL deltas) or a
        // version-3 node (SHA-256 model digest) is told why it cannot join a version-4 coordinator.
        for old in [[UInt16(1)], [2], [3]] {
            result = try coordinator { conn in
                XCTAssertThrowsError(try Handshake.connect(conn, node: "site-a", secret: wrong, samples: 1, versions: old)) {
                    XCTAssertTrue("\($0)".hasSuffix("no common protocol version: node speaks \(old), coordinator speaks [4]"), "\($0)")
                }
            }
            XCTAssertTrue(result.contains("no common protocol version"), result)
        }
    }

    func testGarbageFirstMessageIsRefused() throws {
        let result = try coordinator { conn in
            try conn.send(Frame(version: 1, type: MessageType.update.rawValue, payload: [1, 2, 3]))
            XCTAssertThrowsError(try Handshake.expect(conn, .challenge, timeout: 2)) {
                XCTAssertTrue("\($0)".contains("expected HELLO (type 1) as the first message, got type 6"), "\($0)")
            }
        }
        XCTAssertTrue(result.contains("expected HELLO"), result)
    }
}

/// After the handshake a frame must carry the agreed protocol version.
final class FrameVersionTests: XCTestCase {
    func testAFrameOfAnotherVersionIsRefusedAfterTheHandshake() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: listener.port, timeout: 2))
        let server = FramedConnection(stream: try XCTUnwrap(try listener.accept(timeout: 5)))
        defer { client.close(); server.close() }
        try client.send(Frame(version: 2, type: MessageType.heartbeat.rawValue, payload: []))
        XCTAssertEqual(try server.receive(timeout: 2).version, 2, "before a handshake any version is read (HELLO says which it speaks)")
        server.expectedVersion = 3
        try client.send(Frame(version: 3, type: MessageType.heartbeat.rawValue, payload: []))
        XCTAssertEqual(try server.receive(timeout: 2).version, 3)
        try client.send(Frame(version: 2, type: MessageType.heartbeat.rawValue, payload: [1, 2, 3]))
        XCTAssertThrowsError(try server.receive(timeout: 2)) { error in
            XCTAssertEqual(error as? FrameError, .unexpectedVersion(got: 2, expected: 3))
        }
    }
}
