import XCTest
import CohortCheckpoint
import CohortTensor
import Foundation

/// The plan's personalisation (FedAvg-FT, Ditto, FedRep) across real processes: a coordinator
/// and three nodes on loopback, each node saving the model it ends with.
final class PersonalizationProcessTests: XCTestCase {
    private struct Run {
        let dir: URL
        let evaluation: [String: [String: Double]]
        let rounds: [[String: [String: Double]]]
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func log(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }
        func checkpoint(_ name: String) throws -> [String: Tensor] {
            Dictionary(uniqueKeysWithValues: try CheckpointFile.load(p(name)).tensors.map { ($0.name, $0.value) })
        }
    }

    /// Runs 3 rounds of `personalization` (a JSON object) on the shared sites with a BatchNorm model.
    private func federate(_ personalization: String, extra: String = "") throws -> Run {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-personal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func log(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"learningRate":0.05,"personalization":"# + personalization + extra + "}")
        try #"{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},{"kind":"batchnorm1d","name":"features.1"},{"kind":"relu","name":"features.2"},{"kind":"dense","name":"head","units":2}]}"#
            .write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        let initProc = try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"], stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0, log("init.log"))
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "3", "--min-nodes", "3", "--round-timeout", "30",
                                                     "--wait", "30", "--out", p("out"), "--insecure"], stderr: dir.appendingPathComponent("coordinator.log"))
        let nodes = try (0..<3).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s).csv"), "--test", p("site\(s).csv"), "--save-model", p("site\(s).final.ckpt"), "--insecure"],
                                      stderr: dir.appendingPathComponent("node\(s).log"))
        }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 120), 0, log("coordinator.log"))
        for (s, n) in nodes.enumerated() { XCTAssertEqual(ProcessHarness.wait(n, seconds: 20), 0, log("node\(s).log")) }
        let records = try String(contentsOfFile: p("out/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(records.count, 3)
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("out/evaluation.json"))) as! [String: Any]
        let final = try XCTUnwrap(evaluation["nodes"] as? [String: [String: Double]], "\(evaluation)")
        XCTAssertEqual(final.keys.sorted(), ["site0", "site1", "site2"])
        // Every site reports its global and its personal model's scores; the kept model is the personal one.
        for (site, m) in final {
            XCTAssertNotNil(m["global_test_accuracy"], "\(site): \(m)")
            XCTAssertNotNil(m["global_val_accuracy"], "\(site): \(m)")
            let personal = try XCTUnwrap(m["personal_test_accuracy"], "\(site): \(m)")
            XCTAssertNotNil(m["personal_val_accuracy"], "\(site): \(m)")
            if m["guard_winner"] == nil { XCTAssertEqual(m["test_accuracy"], personal, "\(site): \(m)") }
        }
        return Run(dir: dir, evaluation: final, rounds: records.map { ($0["nodeMetrics"] as? [String: [String: Double]]) ?? [:] })
    }

    func testFedAvgFTChoosesTheEpochOnValidation() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let run = try federate(#"{"method":"fedavg-ft","fineTuneEpochs":4,"fineTuneEveryRound":true}"#)
        let global = try run.checkpoint("out/global.ckpt")
        // For the report, every round's UPDATE says what fine-tuning the received model gave.
        for round in run.rounds {
            for s in 0..<3 {
                let m = try XCTUnwrap(round["site\(s)"])
                XCTAssertNotNil(m["ft_test_accuracy"], "\(m)")
                XCTAssertGreaterThanOrEqual(try XCTUnwrap(m["ft_val_accuracy"]), try XCTUnwrap(m["global_val_accuracy"]) - 1e-9, "\(m)")
            }
        }
        for s in 0..<3 {
            let m = try XCTUnwrap(run.evaluation["site\(s)"])
            let epoch = try XCTUnwrap(m["ft_epoch"], "\(m)")
            XCTAssertTrue((0...4).contains(epoch), "\(m)")
            // Epoch 0 is the global model itself: the chosen epoch can never score below it on validation.
            XCTAssertGreaterThanOrEqual(m["personal_val_accuracy"]!, m["global_val_accuracy"]! - 1e-9, "\(m)")
            let saved = try run.checkpoint("site\(s).final.ckpt")
            let weightsDiffer = saved.keys.contains { $0.hasSuffix("weight") && saved[$0] != global[$0] }
            XCTAssertEqual(weightsDiffer, epoch > 0, "site\(s) saved the fine-tuned model (epoch \(epoch)) — \(m)")
        }
        XCTAssertTrue(run.log("node0.log").contains("fine-tuned the global model: epoch"), run.log("node0.log"))
    }

    func testDittoTrainsAPersonalModelAndTheGuardWeighsIt() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let run = try federate(#"{"method":"ditto","lambda":0.5}"#, extra: #","adaptation":{"method":"none","guard":true,"guardEpochs":5}"#)
        for round in run.rounds { for s in 0..<3 { XCTAssertNotNil(round["site\(s)"]?["personal_val_accuracy"], "\(round)") } }
        let global = try run.checkpoint("out/global.ckpt")
        for s in 0..<3 {
            let m = try XCTUnwrap(run.evaluation["site\(s)"])
            // The guard scored the personal model on validation and kept the best of the candidates.
            let personal = try XCTUnwrap(m["guard_personal_val"], "\(m)")
            let kept = try XCTUnwrap(m["guard_kept_val"], "\(m)")
            XCTAssertGreaterThanOrEqual(kept, max(personal, m["guard_incoming_val"]!, m["guard_scratch_val"]!) - 1e-6, "\(m)")
            XCTAssertEqual(m["val_accuracy"]!, kept, accuracy: 1e-6, "\(m)")
            if m["guard_winner"] == 3 {
                let saved = try run.checkpoint("site\(s).final.ckpt")
                XCTAssertNotEqual(saved["head.weight"], global["head.weight"], "the saved personal model is not the global one")
            }
        }
        XCTAssertTrue(run.log("node1.log").contains("ditto personal model"), run.log("node1.log"))
    }

    func testFedRepHeadNeverLeavesTheSite() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let run = try federate(#"{"method":"fedrep","personalPrefixes":["head"],"headEpochs":1}"#)
        let initial = try run.checkpoint("init.ckpt"), global = try run.checkpoint("out/global.ckpt")
        // No node sent the head: the coordinator's head is the initial one, bit for bit; the shared layers moved.
        XCTAssertEqual(global["head.weight"], initial["head.weight"])
        XCTAssertEqual(global["head.bias"], initial["head.bias"])
        XCTAssertNotEqual(global["features.0.weight"], initial["features.0.weight"])
        for s in 0..<3 {
            let saved = try run.checkpoint("site\(s).final.ckpt")
            XCTAssertEqual(saved["features.0.weight"], global["features.0.weight"], "site\(s): shared layers are the global ones")
            XCTAssertNotEqual(saved["head.weight"], initial["head.weight"], "site\(s): its own head trained")
            let m = try XCTUnwrap(run.evaluation["site\(s)"])
            XCTAssertGreaterThan(m["personal_test_accuracy"]!, 0.8, "\(m)")
        }
        XCTAssertNotEqual(try run.checkpoint("site0.final.ckpt")["head.weight"], try run.checkpoint("site1.final.ckpt")["head.weight"])
        // The node's own report (its log) gives both scores too.
        XCTAssertTrue(run.log("node0.log").contains("(global model "), run.log("node0.log"))
    }
}
