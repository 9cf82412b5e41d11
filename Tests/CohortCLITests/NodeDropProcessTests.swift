import XCTest
import CohortTransport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A node killed mid-round (issue 15, point 4): the coordinator goes on with the quorum as soon
/// as the connection ends, not after the round timeout, and the journal and `evaluation.json`
/// say which site dropped, in which round, when and why.
final class NodeDropProcessTests: XCTestCase {
    func testANodeKilledMidRoundIsRecordedAndTheRoundClosesWithoutWaitingOutTheTimeout() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-drop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"localEpochs":2}"#)
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        // Site 2 trains on a large dataset, so round 2 is still running when it is killed.
        var big = (0..<6).map { "x\($0)" }.joined(separator: ",") + ",target\n"
        for i in 0..<60_000 { big += (0..<6).map { j in String(format: "%.3f", Double((i * 7 + j * 13) % 100) / 50 - 1) }.joined(separator: ",") + ",\(i % 2)\n" }
        try big.write(to: dir.appendingPathComponent("site2.csv"), atomically: true, encoding: .utf8)
        XCTAssertEqual(ProcessHarness.wait(try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")],
                                                                     stderr: dir.appendingPathComponent("i.log")), seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        let timeout = 120.0
        let coordinatorLog = dir.appendingPathComponent("coordinator.log")
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "3", "--min-nodes", "3", "--quorum", "2",
                                                     "--round-timeout", "\(Int(timeout))", "--wait", "30", "--out", p("out"), "--insecure"],
                                                    stderr: coordinatorLog)
        let nodes = try (0..<3).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s).csv"), "--insecure"], stderr: dir.appendingPathComponent("node\(s).log"))
        }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !((try? String(contentsOf: coordinatorLog, encoding: .utf8)) ?? "").contains("round 1 done") { Thread.sleep(forTimeInterval: 0.02) }
        let killedAt = Date().timeIntervalSince1970
        kill(nodes[2].processIdentifier, SIGKILL)
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 90), 0, (try? String(contentsOf: coordinatorLog, encoding: .utf8)) ?? "")
        let log = try String(contentsOf: coordinatorLog, encoding: .utf8)
        let records = try String(contentsOfFile: p("out/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(records.count, 3, log)
        XCTAssertNil(records[0]["dropped"], "nobody dropped in round 1: \(records[0])")
        // The round in which site2 died: closed with the other two, far sooner than the timeout.
        let hit = try XCTUnwrap(records.first { ($0["rejected"] as? [String: String])?["site2"] != nil }, log)
        XCTAssertEqual((hit["accepted"] as? [String])?.sorted(), ["site0", "site1"], log)
        XCTAssertLessThan(hit["seconds"] as? Double ?? .infinity, timeout / 2, "the round went on at once, not after the node timeout: \(hit)")
        let drops = try XCTUnwrap(hit["dropped"] as? [[String: Any]], "the round records the drop: \(hit)")
        XCTAssertEqual(drops.count, 1, "\(drops)")
        XCTAssertEqual(drops.first?["node"] as? String, "site2")
        XCTAssertEqual(drops.first?["round"] as? Int, hit["round"] as? Int)
        XCTAssertEqual(drops.first?["reason"] as? String, "connection-closed", "\(drops)")
        XCTAssertGreaterThanOrEqual(drops.first?["at"] as? Double ?? 0, killedAt - 1)
        // The final report lists it too.
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("out/evaluation.json"))) as! [String: Any]
        let listed = try XCTUnwrap(evaluation["dropped"] as? [[String: Any]], "\(evaluation)")
        XCTAssertEqual(listed.map { $0["node"] as? String }, ["site2"])
        XCTAssertEqual(listed.first?["reason"] as? String, "connection-closed")
        XCTAssertTrue(log.contains("nodes dropped during the run: 'site2' in round"), log)
        for n in nodes.prefix(2) { XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0) }
    }
}
