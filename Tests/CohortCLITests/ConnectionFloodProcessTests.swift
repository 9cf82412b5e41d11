import CohortTransport
import Foundation
import XCTest

/// A coordinator limited to 128 descriptors, held under a flood of 300 idle connections (every
/// one it closes is replaced), still admits two real nodes, journals every round and exits 0;
/// its threads stay bounded. Before the handshake gate every connection got a thread and a
/// descriptor until authenticated, and the journal write failed once descriptors ran out.
final class ConnectionFloodProcessTests: XCTestCase {
    func testIdleConnectionFloodDoesNotStopTheRun() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-flood-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"learningRate":0.05}"#)
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func text(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }
        let initProc = try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"],
                                                 stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        let rounds = 3
        let args = ["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                    "--listen", "127.0.0.1:\(port)", "--rounds", "\(rounds)", "--min-nodes", "2", "--round-timeout", "30",
                    "--wait", "90", "--out", p("out"), "--insecure"]
        let coordinator = try ProcessHarness.launch(args, stderr: dir.appendingPathComponent("coordinator.log"), ulimit: 128)
        defer { if coordinator.isRunning { coordinator.terminate() } }

        // The flood: 300 connections that never send a byte, each replaced when closed.
        let flood = Flood(host: "127.0.0.1", port: port, count: 300, maxAttempts: 30_000)
        let floodThread = Thread { flood.run(while: { coordinator.isRunning }) }
        floodThread.start()
        let deadline = Date().addingTimeInterval(20)
        while flood.established < 300 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertGreaterThanOrEqual(flood.established, 300, "the flood got its connections up")

        let nodes = try (0..<2).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s).csv"), "--insecure"], stderr: dir.appendingPathComponent("site\(s).log"))
        }
        let peakThreads = ProcessHarness.peakThreads(of: coordinator, seconds: 120)
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 1), 0, text("coordinator.log"))
        for (s, node) in nodes.enumerated() {
            XCTAssertEqual(ProcessHarness.wait(node, seconds: 30), 0, text("site\(s).log"))
        }
        let lines = text("out/rounds.jsonl").split(separator: "\n")
        XCTAssertEqual(lines.count, rounds, text("coordinator.log"))
        XCTAssertGreaterThan(flood.closedByCoordinator, 0, "the coordinator closed unauthenticated connections")
        // Main, gate, heartbeat, one per node in a round, and the runtime's own: far below 300.
        XCTAssertLessThan(peakThreads, 40, "coordinator threads stay bounded")
        XCTAssertFalse(text("coordinator.log").contains("refused 127.0.0.1"), "idle connections are not logged one by one")
    }
}

/// Holds `count` idle connections to `host:port`, replacing each one that is closed, until
/// `run`'s condition is false or `maxAttempts` connections were opened.
private final class Flood: @unchecked Sendable {
    let host: String, port: UInt16, count: Int, maxAttempts: Int
    private let lock = NSLock()
    private var _established = 0, _closed = 0
    var established: Int { lock.withLock { _established } }
    var closedByCoordinator: Int { lock.withLock { _closed } }

    init(host: String, port: UInt16, count: Int, maxAttempts: Int) {
        self.host = host; self.port = port; self.count = count; self.maxAttempts = maxAttempts
    }

    func run(while going: () -> Bool) {
        var sockets: [TCPSocket] = []
        var attempts = 0
        while going() {
            sockets.removeAll { s in
                if s.isOpen { return false }
                s.close()
                lock.withLock { _closed += 1 }
                return true
            }
            while sockets.count < count && attempts < maxAttempts && going() {
                attempts += 1
                guard let s = try? TCPSocket.connect(host: host, port: port, timeout: 1) else { break }
                sockets.append(s)
                lock.withLock { _established += 1 }
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        for s in sockets { s.close() }
    }
}
