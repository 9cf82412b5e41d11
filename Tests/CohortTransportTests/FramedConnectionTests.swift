import XCTest
import CohortTransport
import Foundation

/// Frames over real loopback TCP sockets (server side on a thread in this process).
final class FramedConnectionTests: XCTestCase {
    /// Accepts one connection on a background thread and hands it to `serve`.
    private func withServer(host: String = "127.0.0.1", _ serve: @escaping @Sendable (TCPSocket) -> Void,
                            client: (UInt16) throws -> Void) throws {
        let listener = try TCPListener(host: host, port: 0)
        let done = DispatchSemaphore(value: 0)
        let box = Unchecked(listener)
        Thread {
            if let s = try? box.value.accept(timeout: 5) { serve(s) }
            done.signal()
        }.start()
        try client(listener.port)
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "server thread finished")
    }

    func testFramesRoundTripOverIPv4AndIPv6() throws {
        for host in ["127.0.0.1", "::1"] {
            try withServer(host: host, { socket in
                let conn = FramedConnection(stream: socket)
                while let f = try? conn.receive(timeout: 2) { try? conn.send(Frame(version: f.version, type: f.type + 1, payload: f.payload.reversed())) }
            }) { port in
                let conn = FramedConnection(stream: try TCPSocket.connect(host: host, port: port, timeout: 2))
                for size in [0, 1, 1000, 3 << 20] {
                    let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
                    try conn.send(Frame(version: 1, type: 7, payload: payload))
                    let echo = try conn.receive()
                    XCTAssertEqual(echo.type, 8)
                    XCTAssertEqual(echo.payload, payload.reversed(), "\(host) size \(size)")
                }
                conn.close()
            }
        }
    }

    private func receiveError(sending bytes: [UInt8], closeAfter: Bool = true, maxPayload: Int = 1024,
                              readTimeout: Double = 2) throws -> String {
        let result = LockedString()
        try withServer({ socket in
            let conn = FramedConnection(stream: socket, maxPayload: maxPayload, readTimeout: readTimeout)
            do { _ = try conn.receive(); result.set("received") } catch { result.set("\(error)") }
        }) { port in
            let s = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 2)
            try s.write(bytes, timeout: 2)
            if closeAfter { s.close() } else { Thread.sleep(forTimeInterval: readTimeout + 0.5); s.close() }
        }
        return result.value
    }

    func testMalformedFramesAreRejectedWithReasons() throws {
        var good = Frame(version: 1, type: 3, payload: [1, 2, 3, 4]).encoded()
        XCTAssertEqual(try receiveError(sending: good), "received")
        XCTAssertEqual(try receiveError(sending: Array("GET / HTTP/1.1\r\n".utf8)),
                       "not a Cohort frame (magic 47455420, expected 43485254 'CHRT')")
        // A header announcing 2 GB is refused before any payload is read.
        var huge = good; huge[8] = 0; huge[9] = 0; huge[10] = 0; huge[11] = 0x80
        XCTAssertEqual(try receiveError(sending: Array(huge.prefix(16))), "frame payload of 2147483648 bytes exceeds the limit of 1024")
        good[17] ^= 0xFF
        XCTAssertTrue(try receiveError(sending: good).hasPrefix("frame CRC32 mismatch"))
        let cut = Frame(version: 1, type: 3, payload: [UInt8](repeating: 9, count: 100)).encoded().prefix(50)
        XCTAssertTrue(try receiveError(sending: Array(cut)).contains("connection closed by peer (34 of 100 bytes)"))
    }

    func testSilentPeerTimesOut() throws {
        let header = Array(Frame(version: 1, type: 3, payload: [UInt8](repeating: 0, count: 10)).encoded().prefix(20))
        let message = try receiveError(sending: header, closeAfter: false, readTimeout: 0.3)
        XCTAssertTrue(message.contains("read timed out after 0.3 s (4 of 10 bytes)"), message)
    }

    func testConnectErrorsNameTheAddress() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let port = listener.port
        listener.close()
        XCTAssertThrowsError(try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 1)) {
            XCTAssertTrue("\($0)".hasPrefix("cannot connect to 127.0.0.1:\(port)"), "\($0)")
        }
        XCTAssertThrowsError(try TCPListener(host: "localhost-not-numeric", port: 0)) {
            XCTAssertTrue("\($0)".contains("give a numeric address"), "\($0)")
        }
    }

    /// Protocol 4's frame checksum is CRC-32C: the standard check value, and continuing a
    /// checksum over a split input gives the whole input's.
    func testFrameChecksumIsCRC32C() {
        XCTAssertEqual(Frame.crc32(Array("123456789".utf8)), 0xE306_9283)
        let whole = Array("streamed frames, chunk by chunk".utf8)
        let first = whole.withUnsafeBytes { Frame.crc32(UnsafeRawBufferPointer(rebasing: $0[..<9]), continuing: 0) }
        XCTAssertEqual(whole.withUnsafeBytes { Frame.crc32(UnsafeRawBufferPointer(rebasing: $0[9...]), continuing: first) }, Frame.crc32(whole))
    }
}
