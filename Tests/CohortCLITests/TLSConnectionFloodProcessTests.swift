@testable import CohortTransport
import Foundation
import XCTest

/// A TLS coordinator (`ulimit -n 256`) held under stalled TLS handshakes: 10 connections that
/// say nothing, 10 that send part of a ClientHello, 10 that send a whole ClientHello, all then
/// silent, each replaced when the coordinator closes it (30 in all: under the per-address cap,
/// so the coordinator holds them all, none is evicted). Two real nodes still finish every round
/// and the coordinator exits 0. Before the gate ran TLS handshakes in its poll loop, every
/// connection that had sent a byte went to one of 4 blocking handshake threads for up to its
/// 10 s deadline, so the nodes' handshakes queued behind them and timed out (checked by running
/// this test with COHORT_FLOOD_BINARY set to main's `cohort`).
final class TLSConnectionFloodProcessTests: XCTestCase {
    /// The binary under test: COHORT_FLOOD_BINARY if set (to check another build), else this
    /// package's.
    private let binary = ProcessInfo.processInfo.environment["COHORT_FLOOD_BINARY"].map { URL(fileURLWithPath: $0) } ?? CohortBinary.url

    private func launch(_ args: [String], stderr: URL, ulimit: Int? = nil) throws -> Process {
        try ProcessHarness.launch(args, stderr: stderr, binary: binary, ulimit: ulimit)
    }

    func testStalledTLSHandshakeFloodDoesNotKeepNodesOut() throws {
        _ = CohortBinary.url   // sets the private umask the secrets files need
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-tlsflood-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"learningRate":0.05}"#)
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func text(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }
        let certs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CohortTransportTests/Fixtures")
        let key = dir.appendingPathComponent("coordinator.key")
        try FileManager.default.copyItem(at: certs.appendingPathComponent("coordinator.key"), to: key)
        XCTAssertEqual(chmod(key.path, 0o600), 0)
        let initProc = try launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"],
                                  stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        let rounds = 3
        let coordinator = try launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                      "--listen", "127.0.0.1:\(port)", "--rounds", "\(rounds)", "--min-nodes", "2",
                                      "--round-timeout", "30", "--wait", "45", "--out", p("out"),
                                      "--tls-cert", certs.appendingPathComponent("coordinator.pem").path, "--tls-key", key.path],
                                     stderr: dir.appendingPathComponent("coordinator.log"), ulimit: 256)
        defer { if coordinator.isRunning { coordinator.terminate() } }

        let flood = TLSFlood(port: port, perKind: 10, maxAttempts: 20_000, ca: certs.appendingPathComponent("ca.pem").path)
        let floodThread = Thread { flood.run(while: { coordinator.isRunning }) }
        floodThread.start()
        let deadline = Date().addingTimeInterval(20)
        while flood.established < 30 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertGreaterThanOrEqual(flood.established, 30, "the flood got its connections up")

        let nodes = try (0..<2).map { s in
            try launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                        "--data", p("site\(s).csv"), "--tls-ca", certs.appendingPathComponent("ca.pem").path],
                       stderr: dir.appendingPathComponent("site\(s).log"))
        }
        let peakThreads = ProcessHarness.peakThreads(of: coordinator, seconds: 90)
        // Counted up to the last round record's write: the coordinator's exit closes the rest.
        let finished = (try? FileManager.default.attributesOfItem(atPath: p("out/rounds.jsonl"))[.modificationDate] as? Date) ?? Date.distantPast
        print("TLS flood: \(flood.established) connections established, \(flood.closedByCoordinator) closed by the coordinator (\(flood.closed(before: finished)) before the last round record), "
              + "peak coordinator threads \(peakThreads)")
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 1), 0, text("coordinator.log"))
        for (s, node) in nodes.enumerated() {
            XCTAssertEqual(ProcessHarness.wait(node, seconds: 30), 0, text("site\(s).log"))
        }
        XCTAssertEqual(text("out/rounds.jsonl").split(separator: "\n").count, rounds, text("coordinator.log"))
        // The nodes got in while every stalled handshake was still held: none reached its 10 s
        // deadline (this run takes about a second; main's binary admitted the nodes only once the
        // stalled connections ahead of them on its 4 handshake threads had expired, about 10 s).
        XCTAssertEqual(flood.closed(before: finished), 0, "nodes finished while all 30 stalled handshakes were held")
        XCTAssertLessThan(peakThreads, 40, "coordinator threads stay bounded")
        XCTAssertFalse(text("coordinator.log").contains("refused 127.0.0.1"), "stalled handshakes are not logged one by one")
    }
}

/// Holds `perKind` connections of each kind (silent; 15 bytes of a ClientHello record; a whole
/// ClientHello) to 127.0.0.1:`port`, replacing each one that is closed, until `run`'s
/// condition is false or `maxAttempts` connections were opened.
private final class TLSFlood: @unchecked Sendable {
    enum Kind: CaseIterable { case silent, partial, hello }
    let port: UInt16, perKind: Int, maxAttempts: Int, ca: String
    private let lock = NSLock()
    private var _established = 0
    private var closedAt: [Date] = []
    var established: Int { lock.withLock { _established } }
    /// Connections found closed by the coordinator (all of them, including at its exit).
    var closedByCoordinator: Int { lock.withLock { closedAt.count } }
    /// Connections found closed before `time`. The flood polls every 10 ms, so a close is seen
    /// at most that late: closes at the coordinator's exit (after its last round record) are
    /// never counted before that record's modification time.
    func closed(before time: Date) -> Int { lock.withLock { closedAt.filter { $0 < time }.count } }

    init(port: UInt16, perKind: Int, maxAttempts: Int, ca: String) {
        self.port = port; self.perKind = perKind; self.maxAttempts = maxAttempts; self.ca = ca
    }

    private func open(_ kind: Kind, client: TLSContext) throws -> any ByteStream {
        let s = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 1)
        switch kind {
        case .silent: return s
        case .partial:
            try s.write([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0], timeout: 1)
            return s
        case .hello:
            let t = try TLSStream(unshaken: s, context: client, serverName: "127.0.0.1")
            _ = try t.handshakeStep()
            return t
        }
    }

    func run(while going: () -> Bool) {
        guard let client = try? TLSContext.client(trustedCA: ca) else { return }
        var held: [Kind: [any ByteStream]] = [:]
        var attempts = 0
        while going() {
            for kind in Kind.allCases {
                held[kind, default: []].removeAll { s in
                    if s.isOpen { return false }
                    s.close()
                    lock.withLock { closedAt.append(Date()) }
                    return true
                }
                while held[kind, default: []].count < perKind && attempts < maxAttempts && going() {
                    attempts += 1
                    guard let s = try? open(kind, client: client) else { break }
                    held[kind, default: []].append(s)
                    lock.withLock { _established += 1 }
                }
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        for list in held.values { for s in list { s.close() } }
    }
}
