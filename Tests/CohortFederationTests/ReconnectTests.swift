import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay on loopback whose connections the test can cut, to simulate a link failure.
private final class Relay: @unchecked Sendable {
    let listener: TCPListener
    let target: UInt16
    private let lock = NSLock()
    private var sockets: [TCPSocket] = []
    private var stopped = false

    init(target: UInt16) throws {
        listener = try TCPListener(host: "127.0.0.1", port: 0)
        self.target = target
        Thread { [self] in
            while !lock.withLock({ stopped }) {
                guard let inbound = try? listener.accept(timeout: 0.1),
                      let outbound = try? TCPSocket.connect(host: "127.0.0.1", port: target, timeout: 2) else { continue }
                lock.withLock { sockets += [inbound, outbound] }
                // The pumps hold the sockets, so a cut descriptor is not closed (and its number
                // reused by the node's next connection) while a pump may still read it.
                Thread { Relay.pump(from: inbound, to: outbound) }.start()
                Thread { Relay.pump(from: outbound, to: inbound) }.start()
            }
        }.start()
    }

    /// Copies bytes until either side closes.
    private static func pump(from source: TCPSocket, to destination: TCPSocket) {
        let from = source.fd, to = destination.fd
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var p = pollfd(fd: from, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) == 0 { continue }
            let n = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            var sent = 0
            while sent < n {
                let m = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                if m <= 0 { return }
                sent += m
            }
        }
        withExtendedLifetime((source, destination)) {}
    }

    /// Cuts every relayed connection (new ones are still accepted).
    func cut() {
        let all = lock.withLock { () -> [TCPSocket] in defer { sockets = [] }; return sockets }
        for s in all { shutdown(s.fd, Int32(SHUT_RDWR)) }
    }

    func stop() { lock.withLock { stopped = true }; cut() }
}

final class ReconnectTests: XCTestCase {
    func testNodeReconnectsAfterTheLinkIsCutAndServesEveryRound() throws {
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["a"]) { config in
            config.rounds = 3
            config.minNodes = 1
            config.roundTimeout = 5
        }
        defer { cleanup() }
        let secret = TinyFederation.secret(0)
        let relay = try Relay(target: coordinator.port)
        defer { relay.stop() }
        let nodeLog = LogBox()
        let nodeDone = DispatchSemaphore(value: 0)
        let relayPort = relay.listener.port
        Thread {
            var c = TinyFederation.node("a", secret: secret, port: relayPort)
            c.timeout = 10
            do { nodeLog.append("rounds \(try FederatedNode(config: c).run { nodeLog.append($0) })") } catch { nodeLog.append("failed: \(error)") }
            nodeDone.signal()
        }.start()
        let cutOnce = CutOnce(relay)
        let records: [Coordinator.RoundRecord]
        do {
            records = try coordinator.run { line in if line.contains("round 1 done") { cutOnce.fire() } }
        } catch {
            _ = nodeDone.wait(timeout: .now() + 20)
            return XCTFail("the coordinator stopped: \(error); the node's log:\n\(nodeLog.text)")
        }
        XCTAssertEqual(nodeDone.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(records.count, 3)
        XCTAssertTrue(records.allSatisfy { $0.accepted == ["a"] })
        let log = nodeLog.text
        XCTAssertTrue(log.contains("lost the coordinator"), log)
        XCTAssertTrue(log.contains("rounds 3"), log)
    }
}

private final class CutOnce: @unchecked Sendable {
    private let relay: Relay
    private let lock = NSLock()
    private var fired = false
    init(_ relay: Relay) { self.relay = relay }
    func fire() {
        let first = lock.withLock { () -> Bool in defer { fired = true }; return !fired }
        if first { relay.cut() }
    }
}
