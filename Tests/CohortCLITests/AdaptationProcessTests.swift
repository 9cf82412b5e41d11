import XCTest
import Foundation

/// The plan's local adaptation step and the negative-transfer guard across real processes: a
/// coordinator and three nodes, one of which holds no labels at all.
final class AdaptationProcessTests: XCTestCase {
    func testALabelFreeNodeAppliesAdaBNAndEveryNodeGuards() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-adapt-fed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func log(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }
        try ProcessHarness.writeSites(in: dir, plan: #"{"strategy":"fedbn","batchSize":16,"learningRate":0.05,"adaptation":{"method":"adabn","guard":true,"guardEpochs":10}}"#)
        // A model with BatchNorm, and site2's rows with every label removed (its test file keeps them).
        try #"{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},{"kind":"batchnorm1d","name":"features.1"},{"kind":"relu","name":"features.2"},{"kind":"dense","name":"head","units":2}]}"#
            .write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        let labelled = try String(contentsOfFile: p("site2.csv"), encoding: .utf8).split(separator: "\n")
        let stripped = [String(labelled[0])] + labelled.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).dropLast().joined(separator: ",") + "," }
        try (stripped.joined(separator: "\n") + "\n").write(toFile: p("site2-unlabelled.csv"), atomically: true, encoding: .utf8)

        let initProc = try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"], stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0, log("init.log"))
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "2", "--min-nodes", "3", "--round-timeout", "30",
                                                     "--wait", "30", "--out", p("out"), "--insecure"], stderr: dir.appendingPathComponent("coordinator.log"))
        let nodes = try (0..<3).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p(s == 2 ? "site2-unlabelled.csv" : "site\(s).csv"), "--test", p("site\(s).csv"), "--insecure"],
                                      stderr: dir.appendingPathComponent("node\(s).log"))
        }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 90), 0, log("coordinator.log"))
        for (s, n) in nodes.enumerated() { XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0, log("node\(s).log")) }
        XCTAssertTrue(log("coordinator.log").contains("node 'site2' joined (1 samples)"), log("coordinator.log"))

        let records = try String(contentsOfFile: p("out/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(records.count, 2)
        for record in records {
            XCTAssertEqual((record["accepted"] as? [String])?.sorted(), ["site0", "site1", "site2"])
            let metrics = try XCTUnwrap(record["nodeMetrics"] as? [String: [String: Double]])
            // site2: no labels, so it only adapts (all 60 rows) and cannot guard.
            XCTAssertEqual(metrics["site2"]?["adaptation_rows"], 60, "\(metrics)")
            XCTAssertEqual(metrics["site2"]?["adaptation_changed_tensors"], 2, "only the running statistics move")
            XCTAssertEqual(metrics["site2"]?["guard_skipped"], 1)
            // site1 has 96 labelled training rows (< minLabels 100): it adapts too; site0 (160) does not.
            XCTAssertEqual(metrics["site1"]?["adaptation_rows"], 96)
            XCTAssertNil(metrics["site0"]?["adaptation_rows"])
            for site in ["site0", "site1"] {
                let m = try XCTUnwrap(metrics[site])
                let kept = try XCTUnwrap(m["guard_kept_val"]), incoming = try XCTUnwrap(m["guard_incoming_val"]), scratch = try XCTUnwrap(m["guard_scratch_val"])
                XCTAssertGreaterThanOrEqual(kept, max(incoming, scratch) - 1e-6, "\(site): \(m)")
                XCTAssertNotNil(m["guard_winner"])
            }
        }
        XCTAssertTrue(log("node2.log").contains("adabn on 60 inputs (0 labelled)"), log("node2.log"))
        XCTAssertTrue(log("node0.log").contains("guard kept"), log("node0.log"))

        // The final evaluation: site2 scores its adapted model (and says what the received one
        // scored); every guarding node ends at least as good on validation as the better of the
        // received model and its scratch model, measured on the model it actually keeps.
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("out/evaluation.json"))) as! [String: Any]
        let final = try XCTUnwrap(evaluation["nodes"] as? [String: [String: Double]])
        XCTAssertNotNil(final["site2"]?["test_accuracy"])
        XCTAssertNotNil(final["site2"]?["received_test_accuracy"])
        XCTAssertEqual(final["site2"]?["adaptation_rows"], 60)
        for site in ["site0", "site1"] {
            let m = try XCTUnwrap(final[site])
            let validation = try XCTUnwrap(m["val_accuracy"])
            XCTAssertGreaterThanOrEqual(validation, max(m["guard_incoming_val"]!, m["guard_scratch_val"]!) - 1e-6, "\(site): \(m)")
        }
    }
}
