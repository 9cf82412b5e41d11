import XCTest
import CohortTransport
import Foundation

/// TLS 1.3 over loopback with the committed test certificates (made by scripts/make-certs.sh:
/// a private CA, a coordinator certificate for localhost/127.0.0.1/::1, and an unrelated CA).
final class TLSStreamTests: XCTestCase {
    private func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")).path
    }

    /// Runs a TLS echo server for one connection; returns the server-side outcome.
    private func serve(client: (UInt16) throws -> Void) throws -> String {
        let server = try TLSContext.server(certificate: try fixture("coordinator.pem"), privateKey: try fixture("coordinator.key"))
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let outcome = LockedString()
        let done = DispatchSemaphore(value: 0)
        let box = Unchecked((listener: listener, context: server))
        Thread {
            defer { done.signal() }
            guard let socket = try? box.value.listener.accept(timeout: 5) else { outcome.set("no connection"); return }
            do {
                let conn = FramedConnection(stream: try TLSStream(socket: socket, context: box.value.context, timeout: 3))
                let f = try conn.receive(timeout: 3)
                try conn.send(f)
                outcome.set("echoed")
            } catch { outcome.set("\(error)") }
        }.start()
        try client(listener.port)
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        return outcome.value
    }

    func testEchoOverTLS13() throws {
        let client = try TLSContext.client(trustedCA: try fixture("ca.pem"))
        for name in ["127.0.0.1", "localhost"] {
            let result = try serve { port in
                let tls = try TLSStream(socket: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2), context: client,
                                        serverName: name, timeout: 3)
                let conn = FramedConnection(stream: tls)
                let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
                try conn.send(Frame(version: 1, type: 2, payload: payload))
                XCTAssertEqual(try conn.receive().payload, payload)
                conn.close()
            }
            XCTAssertEqual(result, "echoed", name)
        }
    }

    func testNodeTrustingAnotherCARefusesToConnect() throws {
        let client = try TLSContext.client(trustedCA: try fixture("other-ca.pem"))
        let result = try serve { port in
            XCTAssertThrowsError(try TLSStream(socket: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2), context: client,
                                               serverName: "127.0.0.1", timeout: 3)) {
                XCTAssertTrue("\($0)".contains("certificate verification failed"), "\($0)")
            }
        }
        XCTAssertTrue(result.contains("TLS handshake"), result)
    }

    func testWrongServerNameIsRefused() throws {
        let client = try TLSContext.client(trustedCA: try fixture("ca.pem"))
        _ = try serve { port in
            XCTAssertThrowsError(try TLSStream(socket: try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2), context: client,
                                               serverName: "coordinator.example.org", timeout: 3)) {
                XCTAssertTrue("\($0)".contains("hostname mismatch") || "\($0)".contains("certificate verification failed"), "\($0)")
            }
        }
    }

    func testPlaintextClientFailsTheHandshakeCleanly() throws {
        let result = try serve { port in
            let plain = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2)
            try plain.write(Frame(version: 1, type: 1, payload: [1, 2, 3]).encoded(), timeout: 2)
            Thread.sleep(forTimeInterval: 0.2)
            plain.close()
        }
        XCTAssertTrue(result.contains("TLS handshake failed") || result.contains("during TLS handshake"), result)
    }

    func testMismatchedKeyAndMissingFilesAreClearErrors() throws {
        XCTAssertThrowsError(try TLSContext.server(certificate: try fixture("coordinator.pem"), privateKey: "/nonexistent.key")) {
            XCTAssertTrue("\($0)".contains("cannot load private key '/nonexistent.key'"), "\($0)")
        }
        XCTAssertThrowsError(try TLSContext.client(trustedCA: "/nonexistent-ca.pem")) {
            XCTAssertTrue("\($0)".contains("cannot load CA '/nonexistent-ca.pem'"), "\($0)")
        }
    }
}
