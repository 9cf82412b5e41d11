import XCTest
import CohortCheckpoint
import Foundation

/// Issue 16 point 2 with real processes: the secrets file's third field is a node's expected
/// sample count; a node process claiming 10⁹ samples (`--test-attack sample-inflation`) counts
/// with it, and the round record says so.
final class ExpectedSamplesProcessTests: XCTestCase {
    /// One round of the three sites, site2 inflating its count; `counts` are the secrets
    /// file's third fields (nil: none). Returns the round record and the final weights' bits.
    private func run(counts: [Int]?) throws -> (record: [String: Any], weights: [UInt32]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-expected-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"learningRate":0.05}"#)
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func text(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }
        if let counts {
            let lines = text("secrets.txt").split(separator: "\n").enumerated().map { "\($0.element) \(counts[$0.offset])" }
            try (lines.joined(separator: "\n") + "\n").write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)
        }
        chmod(p("secrets.txt"), 0o600)
        for s in 0..<3 { chmod(p("site\(s).key"), 0o600) }
        let initProc = try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"],
                                                 stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "1", "--min-nodes", "3", "--round-timeout", "30",
                                                     "--wait", "60", "--out", p("out"), "--insecure"], stderr: dir.appendingPathComponent("coordinator.log"))
        let nodes = try (0..<3).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s).csv"), "--val-fraction", "0", "--insecure"]
                                      + (s == 2 ? ["--test-attack", "sample-inflation"] : []), stderr: dir.appendingPathComponent("site\(s).log"))
        }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 90), 0, text("coordinator.log"))
        for (s, n) in nodes.enumerated() { XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0, text("site\(s).log")) }
        let line = try XCTUnwrap(text("out/rounds.jsonl").split(separator: "\n").first)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return (record, try CheckpointFile.load(p("out/global.ckpt")).tensors.flatMap { $0.value.data.map(\.bitPattern) })
    }

    func testANodeClaimingABillionSamplesCountsWithItsExpectedCount() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let capped = try run(counts: [200, 120, 60])
        XCTAssertEqual((capped.record["accepted"] as? [String])?.sorted(), ["site0", "site1", "site2"])
        XCTAssertEqual((capped.record["screening"] as? [String: String])?["site2"],
                       "sample weight capped from 1000000000 to 60, the node's expected sample count in the secrets file")
        XCTAssertNil((capped.record["screening"] as? [String: String])?["site0"])
        let uncapped = try run(counts: nil)
        XCTAssertNil(uncapped.record["screening"])
        XCTAssertNotEqual(capped.weights, uncapped.weights)
    }
}
