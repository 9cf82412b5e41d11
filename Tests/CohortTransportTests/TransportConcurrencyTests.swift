import XCTest
import CohortTransport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Streams used from several threads at once (a round thread reading while a heartbeat thread
/// writes, a session closed from a third), hostile peers, and listener shutdown. Loopback only.
final class TransportConcurrencyTests: XCTestCase {
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
