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

    /// A peer announces a 1 GiB frame (within the limit) and then stalls: memory grows only with
    /// the bytes that arrive, and the receive fails at its deadline.
    func testAnnouncedHugeFrameAllocatesOnlyWhatArrives() throws {
        let pairs = try LoopbackPairs(tls: false)
        let (client, server) = try pairs.make()
        let receiver = Unchecked(FramedConnection(stream: server, maxPayload: 1 << 30, readTimeout: 4))
        var header = Frame(version: 1, type: 6, payload: []).encoded()
        header[8] = 0; header[9] = 0; header[10] = 0; header[11] = 0x40   // 1 GiB
        try client.write(header + [UInt8](repeating: 7, count: 1000), timeout: 2)
        let before = residentBytes()
        let outcome = LockedString()
        let elapsed = Locked(0.0)
        let done = spawn {
            let start = Date()
            do { _ = try receiver.value.receive(timeout: 1.5); outcome.set("received") } catch { outcome.set("\(error)") }
            elapsed.value = Date().timeIntervalSince(start)
        }
        Thread.sleep(forTimeInterval: 0.8)
        let during = residentBytes()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertLessThan(during - before, 16 << 20, "RSS grew by \((during - before) >> 20) MiB while 1000 bytes of a 1 GiB frame had arrived")
        XCTAssertTrue(outcome.value.contains("timed out after 1.5 s (1000 of 1073741824 bytes)"), outcome.value)
        XCTAssertGreaterThanOrEqual(elapsed.value, 1.4)
        XCTAssertLessThan(elapsed.value, 2.5)
        client.close(); server.close()
    }

    /// The deadline given to `receive` covers header and payload together: a header arriving
    /// late does not earn the payload a fresh read timeout.
    func testOneDeadlineCoversHeaderAndPayload() throws {
        let pairs = try LoopbackPairs(tls: false)
        let (client, server) = try pairs.make()
        let receiver = Unchecked(FramedConnection(stream: server, readTimeout: 5))
        let outcome = LockedString()
        let elapsed = Locked(0.0)
        let done = spawn {
            let start = Date()
            do { _ = try receiver.value.receive(timeout: 1); outcome.set("received") } catch { outcome.set("\(error)") }
            elapsed.value = Date().timeIntervalSince(start)
        }
        Thread.sleep(forTimeInterval: 0.6)
        try client.write(Array(Frame(version: 1, type: 3, payload: [UInt8](repeating: 1, count: 100)).encoded().prefix(26)), timeout: 1)
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(outcome.value.contains("read timed out after 1.0 s (10 of 100 bytes)"), outcome.value)
        XCTAssertLessThan(elapsed.value, 1.5)
        client.close(); server.close()
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

    /// `close()` on a listener wakes a thread waiting in `accept(timeout:)`, which then throws.
    func testListenerCloseWakesAConcurrentAccept() throws {
        for _ in 0..<5 {
            let listener = try TCPListener(host: "127.0.0.1", port: 0)
            XCTAssertNotEqual(fcntl(listener.fd, F_GETFL) & O_NONBLOCK, 0, "the listening socket is non-blocking")
            let box = Unchecked(listener)
            let outcome = LockedString()
            let acceptor = spawn {
                do { outcome.set(try box.value.accept(timeout: 5) == nil ? "nil" : "a socket") } catch { outcome.set("\(error)") }
            }
            Thread.sleep(forTimeInterval: 0.1)
            let start = Date()
            listener.close()
            let woke = acceptor.wait(timeout: .now() + 1)
            XCTAssertEqual(woke, .success, "accept still waiting 1 s after close")
            if woke != .success { _ = acceptor.wait(timeout: .now() + 6); break }
            XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
            XCTAssertEqual(outcome.value, "listener is closed")
            XCTAssertThrowsError(try listener.accept(timeout: 0.1))
        }
    }

    /// When `accept` fails for lack of descriptors (EMFILE), each call pauses before throwing,
    /// so a caller looping on `accept(timeout:)` does not spin.
    func testAcceptFailuresAreThrottled() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPSocket.connect(host: "127.0.0.1", port: listener.port, timeout: 2)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &saved), 0)
        var none = saved
        none.rlim_cur = 0
        XCTAssertEqual(setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &none), 0)
        var calls = 0, failures: [String] = []
        let start = Date()
        while Date().timeIntervalSince(start) < 0.5 && calls < 100_000 {
            calls += 1
            do { _ = try listener.accept(timeout: 0.2) } catch { failures.append("\(error)") }
        }
        XCTAssertEqual(setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &saved), 0)
        XCTAssertLessThanOrEqual(calls, 12, "accept(timeout:) called \(calls) times in 0.5 s")
        XCTAssertEqual(failures.count, calls)
        XCTAssertTrue(failures.first?.contains("accept") ?? false, "\(failures.first ?? "")")
        let accepted = try listener.accept(timeout: 2)
        XCTAssertNotNil(accepted, "the pending connection is accepted once descriptors are available")
        if let accepted {
            XCTAssertNotEqual(fcntl(accepted.fd, F_GETFL) & O_NONBLOCK, 0, "accepted sockets are non-blocking")
            XCTAssertNotEqual(fcntl(accepted.fd, F_GETFD) & FD_CLOEXEC, 0, "accepted sockets are close-on-exec")
            accepted.close()
        }
        client.close()
        listener.close()
    }
}
