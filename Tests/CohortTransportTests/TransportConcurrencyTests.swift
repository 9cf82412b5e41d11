import XCTest
import CohortTransport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Streams used from several threads at once (a round thread reading while a heartbeat thread
/// writes, a session closed from a third), hostile peers, and listener shutdown. Loopback only.
final class TransportConcurrencyTests: XCTestCase {
    /// One thread blocked in `receive`, two others closing the connection: the reader gets a
    /// `TransportError` promptly and nothing crashes. Closes land before, during and after the
    /// reader blocks.
    private func closeWakesBlockedReader(tls: Bool, iterations: Int) throws {
        let pairs = try LoopbackPairs(tls: tls)
        for i in 0..<iterations {
            let (client, server) = try pairs.make()
            let conn = Unchecked(FramedConnection(stream: client, readTimeout: 5))
            let outcome = LockedString()
            let reader = spawn {
                do { _ = try conn.value.receive(); outcome.set("received a frame") }
                catch let error as TransportError { outcome.set("TransportError: \(error)") }
                catch { outcome.set("other error: \(error)") }
            }
            usleep(UInt32(i % 10) * 300)
            let closers = [spawn { conn.value.close() }, spawn { conn.value.close() }]
            let woke = reader.wait(timeout: .now() + 2)
            XCTAssertEqual(woke, .success, "iteration \(i): reader still blocked 2 s after close")
            for c in closers { XCTAssertEqual(c.wait(timeout: .now() + 2), .success, "iteration \(i): close returned") }
            if woke != .success { _ = reader.wait(timeout: .now() + 6); server.close(); break }
            XCTAssertTrue(outcome.value.hasPrefix("TransportError:") && outcome.value.contains("closed"), "iteration \(i): \(outcome.value)")
            XCTAssertThrowsError(try client.read(exactly: 1, timeout: 0.1), "reads after close throw")
            XCTAssertThrowsError(try client.write([1], timeout: 0.1), "writes after close throw")
            server.close()
        }
    }

    func testCloseFromAnotherThreadWakesABlockedTLSReader() throws {
        try closeWakesBlockedReader(tls: true, iterations: 50)
    }

    func testCloseFromAnotherThreadWakesABlockedTCPReader() throws {
        try closeWakesBlockedReader(tls: false, iterations: 50)
    }

    /// A socket closed twice (and again on deinit) closes its descriptor once: a descriptor
    /// opened in between with the same number stays open.
    func testSecondCloseDoesNotCloseAReusedDescriptor() throws {
        let pairs = try LoopbackPairs(tls: false)
        let (client, server) = try pairs.make()
        let socket = try XCTUnwrap(client as? TCPSocket)
        let number = socket.fd
        socket.close()
        XCTAssertEqual(socket.fd, -1)
        let reused = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { Glibc.close(reused) }
        XCTAssertEqual(reused, number, "the kernel hands out the lowest free number")
        socket.close()
        XCTAssertNotEqual(fcntl(reused, F_GETFD), -1, "the reused descriptor is still open")
        server.close()
    }

    /// The coordinator's heartbeat thread sends small frames on a TLS connection while its round
    /// thread receives large ones on the same connection: no spurious errors, every byte intact.
    func testHeartbeatSendsWhileReceivingLargeFramesOverTLS() throws {
        let pairs = try LoopbackPairs(tls: true)
        let (client, server) = try pairs.make()
        let coordinator = Unchecked(FramedConnection(stream: server, readTimeout: 10, writeTimeout: 10))
        let node = Unchecked(FramedConnection(stream: client, readTimeout: 10, writeTimeout: 10))
        let rounds = 200, size = 256 << 10
        @Sendable func payload(_ i: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) } }
        let stop = Locked(false)
        let heartbeatErrors = Locked<[String]>([]), nodeErrors = Locked<[String]>([])
        let heartbeatsSeen = Locked(0), heartbeatsSent = Locked(0)
        let heartbeat = spawn {
            while !stop.value {
                do { try coordinator.value.send(Frame(version: 1, type: 9, payload: [])); heartbeatsSent.update { $0 += 1 } }
                catch { heartbeatErrors.update { $0.append("\(error)") }; return }
                usleep(200)
            }
        }
        let nodeReader = spawn {
            while true {
                do {
                    let f = try node.value.receive(timeout: 10)
                    if f.type == 11 { return }
                    heartbeatsSeen.update { $0 += 1 }
                } catch { nodeErrors.update { $0.append("reader: \(error)") }; return }
            }
        }
        let nodeWriter = spawn {
            for i in 0..<rounds {
                do { try node.value.send(Frame(version: 1, type: 6, payload: payload(i))) }
                catch { nodeErrors.update { $0.append("writer: \(error)") }; return }
            }
        }
        var received = 0
        for i in 0..<rounds {
            do {
                let f = try coordinator.value.receive(timeout: 10)
                XCTAssertEqual(f.payload, payload(i), "frame \(i) intact")
                received += 1
            } catch { XCTFail("coordinator receive \(i): \(error)"); break }
        }
        stop.value = true
        XCTAssertEqual(heartbeat.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(nodeWriter.wait(timeout: .now() + 10), .success)
        try? coordinator.value.send(Frame(version: 1, type: 11, payload: []))
        XCTAssertEqual(nodeReader.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(received, rounds)
        XCTAssertEqual(heartbeatErrors.value, [])
        XCTAssertEqual(nodeErrors.value, [])
        XCTAssertEqual(heartbeatsSeen.value, heartbeatsSent.value)
        XCTAssertGreaterThan(heartbeatsSent.value, 0)
        coordinator.value.close()
        node.value.close()
    }

    /// The peer resets the connection while a large TLS write is in progress: the writer gets
    /// an error, and SIGPIPE (from OpenSSL's plain `write`) does not kill the process.
    func testPeerResetDuringTLSWriteDoesNotKillTheProcess() throws {
        let pairs = try LoopbackPairs(tls: true)
        for _ in 0..<3 {
            let (client, clientSocket, server) = try pairs.makeWithSocket()
            let writer = Unchecked(FramedConnection(stream: server, writeTimeout: 5))
            let errors = Locked<[String]>([])
            let done = spawn {
                let big = Frame(version: 1, type: 5, payload: [UInt8](repeating: 3, count: 8 << 20))
                for _ in 0..<20 {
                    do { try writer.value.send(big) } catch { errors.update { $0.append("\(error)") } }
                }
                writer.value.close()
            }
            Thread.sleep(forTimeInterval: 0.2)   // the writer is blocked: the client reads nothing
            var hard = linger(l_onoff: 1, l_linger: 0)   // close sends RST
            setsockopt(clientSocket.fd, SOL_SOCKET, SO_LINGER, &hard, socklen_t(MemoryLayout<linger>.size))
            client.close()
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
            XCTAssertFalse(errors.value.isEmpty, "writes to a reset peer fail")
        }
    }
}
