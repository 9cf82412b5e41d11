import XCTest
import Foundation

/// A second node process under a name that already has a live session is refused (the generic
/// handshake refusal, a warning in the coordinator's log), while the first keeps working.
final class DuplicateNameProcessTests: XCTestCase {
    func testASecondProcessUnderALiveNameIsRefusedAndTheRunCompletes() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-dup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"learningRate":0.05}"#)
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func text(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }
        let initProc = try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"],
                                                 stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        // Two nodes are needed, so the coordinator waits with site0's session live while the
        // duplicate tries to join.
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "2", "--min-nodes", "2", "--round-timeout", "30",
                                                     "--wait", "60", "--out", p("out"), "--insecure"], stderr: dir.appendingPathComponent("coordinator.log"))
        func node(_ site: Int, log: String) throws -> Process {
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site0", "--secret-file", p("site0.key"),
                                       "--data", p("site\(site).csv"), "--insecure"], stderr: dir.appendingPathComponent(log))
        }
        let first = try node(0, log: "first.log")
        let deadline = Date().addingTimeInterval(30)
        while !text("coordinator.log").contains("node 'site0' joined") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertTrue(text("coordinator.log").contains("node 'site0' joined"), text("coordinator.log"))
        // Same name, same secret, another process.
        let second = try node(1, log: "second.log")
        XCTAssertEqual(ProcessHarness.wait(second, seconds: 30), 1, text("second.log"))
        XCTAssertTrue(text("second.log").contains("authentication failed (unknown node name or wrong secret)"), text("second.log"))
        XCTAssertTrue(text("coordinator.log").contains("warning: refused"), text("coordinator.log"))
        XCTAssertTrue(text("coordinator.log").contains("node 'site0' already has a live session"), text("coordinator.log"))
        let other = try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site1", "--secret-file", p("site1.key"),
                                               "--data", p("site1.csv"), "--insecure"], stderr: dir.appendingPathComponent("site1.log"))
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 90), 0, text("coordinator.log"))
        XCTAssertEqual(ProcessHarness.wait(first, seconds: 10), 0, text("first.log"))
        XCTAssertEqual(ProcessHarness.wait(other, seconds: 10), 0, text("site1.log"))
        XCTAssertFalse(text("first.log").contains("reconnecting"), "the first process kept its session: \(text("first.log"))")
        let lines = try String(contentsOfFile: p("out/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for line in lines {
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertEqual((record?["accepted"] as? [String])?.sorted(), ["site0", "site1"], String(line))
        }
        XCTAssertEqual(text("coordinator.log").components(separatedBy: "node 'site0' joined").count, 2, "site0 joined once: \(text("coordinator.log"))")
    }
}
