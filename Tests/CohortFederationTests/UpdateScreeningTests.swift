import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Issue 16, point 2: one authenticated node cannot poison the model or stop the coordinator.
/// Every node here is a `CraftedNode`, so each update is known exactly.
final class UpdateScreeningTests: XCTestCase {
    private let head = [("head.weight", [2, 2]), ("head.bias", [2])]

    /// Runs one round with the crafted nodes (`name: (samples, value of every delta element,
    /// metrics)`), the plan's strategy made by the factory; returns the record and the model before and after.
    private func round(_ nodes: [String: (samples: Int, value: Float, metrics: [String: Double])], plan: TrainingPlan, rounds: Int = 1)
        throws -> (records: [Coordinator.RoundRecord], before: [Float], after: [Float], outDir: String) {
        let names = nodes.keys.sorted()
        let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let model = try Sequential(spec: spec, seed: 1)
        var outDir = ""
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: names) { config in
            config.rounds = rounds
            config.minNodes = names.count
            config.quorum = 1
            config.roundTimeout = 20
            config.finalEvaluation = false
            config.plan = plan
            outDir = config.outDir
        }
        _ = cleanup   // the journal is read by the caller; the temporary folder is left to the OS
        let strategy = try StrategyFactory.make(plan, model: model)
        let c2 = try Coordinator(config: coordinator.config, initial: Checkpoint(model: model, metadata: CheckpointMetadata(source: "test")), strategy: strategy)
        let before = model.stateDict().flatMap { $0.value.data }
        let done = names.enumerated().map { i, name in
            CraftedNode.start(port: c2.port, name: name, secret: TinyFederation.secret(i), samples: nodes[name]!.samples,
                              delta: head.map { ($0.0, $0.1, nodes[name]!.value) }, metrics: nodes[name]!.metrics)
        }
        let records = try c2.run()
        for d in done { XCTAssertEqual(d.wait(timeout: .now() + 30), .success) }
        let after = try CheckpointFile.load((outDir as NSString).appendingPathComponent("global.ckpt")).tensors.flatMap { $0.value.data }
        return (records, before, after, outDir)
    }

    func testAnUpdateOf1e30IsRejectedByTheRelativeNormBound() throws {
        var plan = TrainingPlan()
        plan.screening = UpdateScreeningPlan(maxNormMultiple: 10, action: .reject)
        let r = try round(["a": (8, 0.1, [:]), "b": (8, 0.2, [:]), "c": (8, 0.3, [:]), "h": (8, 1e30, [:])], plan: plan)
        let record = try XCTUnwrap(r.records.first)
        XCTAssertEqual(record.accepted, ["a", "b", "c"])
        XCTAssertTrue(record.rejected["h"]?.hasPrefix("screening: rejected: update norm 2.449e+30 over the bound") ?? false, "\(record.rejected)")
        XCTAssertEqual(record.screening?.keys.sorted(), ["h"])
        XCTAssertNil(record.unapplied)
        // The mean of the honest deltas (0.2) moved every weight.
        for (b, a) in zip(r.before, r.after) { XCTAssertEqual(a - b, 0.2, accuracy: 1e-5) }
    }

    func testClipActionScalesTheUpdateToTheAbsoluteBound() throws {
        var plan = TrainingPlan()
        plan.screening = UpdateScreeningPlan(maxNorm: 1, action: .clip)
        // Six elements of 1e30: norm √6·1e30, scaled to norm 1, i.e. every element 1/√6.
        let r = try round(["a": (8, 0, [:]), "h": (8, 1e30, [:])], plan: plan)
        let record = try XCTUnwrap(r.records.first)
        XCTAssertEqual(record.accepted, ["a", "h"])
        XCTAssertTrue(record.screening?["h"]?.hasPrefix("clipped: update norm 2.449e+30 over the bound 1") ?? false, "\(String(describing: record.screening))")
        for (b, a) in zip(r.before, r.after) { XCTAssertEqual(a - b, Float(1 / 6.0.squareRoot()) / 2, accuracy: 1e-5) }
    }

    func testAClaimOfABillionSamplesIsCappedByThePlan() throws {
        var plan = TrainingPlan()
        plan.screening = UpdateScreeningPlan(maxSamples: 10)
        let r = try round(["a": (10, 0, [:]), "h": (1_000_000_000, 1, [:])], plan: plan)
        let record = try XCTUnwrap(r.records.first)
        XCTAssertEqual(record.screening?["h"], "sample weight capped from 1000000000 to 10")
        // Equal weights after the cap: the mean delta is 0.5, not ≈ 1.
        for (b, a) in zip(r.before, r.after) { XCTAssertEqual(a - b, 0.5, accuracy: 1e-5) }
    }

    func testAnAggregateThatOverflowsIsRecordedAndNeverBecomesTheModel() throws {
        // 3.4e38 is finite, but 8 samples × 3.4e38 is not: the weighted sum overflows. With no
        // bounds at all ("screening": {}; the default norm guard would reject the update).
        var unbounded = TrainingPlan()
        unbounded.screening = UpdateScreeningPlan()
        let r = try round(["a": (8, 0, [:]), "h": (8, 3.4e38, [:])], plan: unbounded, rounds: 2)
        XCTAssertEqual(r.records.count, 2, "the coordinator goes on")
        for record in r.records {
            XCTAssertTrue(record.unapplied?.hasPrefix("the aggregate is not finite (head.weight") ?? false, "\(String(describing: record.unapplied))")
        }
        XCTAssertEqual(r.after, r.before, "the journaled model is the initial one, finite")
        XCTAssertEqual(try Coordinator.loadJournal(outDir: r.outDir).completed.count, 2, "the journal reads back for --resume")
    }

    func testAMetricOf1e308OrOutOfRangeIsLeftOutAndTheJournalStillEncodesAndResumes() throws {
        let r = try round(["a": (8, 0.1, ["global_val_accuracy": 0.5, "train_loss": 0.3]),
                           "h": (8, 0.1, ["global_val_accuracy": 1e308, "train_loss": 1e308, "val_accuracy": 7])], plan: TrainingPlan(), rounds: 2)
        XCTAssertEqual(r.records.count, 2)
        let record = try XCTUnwrap(r.records.first)
        XCTAssertEqual(record.invalidMetrics?["h"], ["global_val_accuracy", "train_loss", "val_accuracy"])
        XCTAssertEqual(record.nodeMetrics["h"], ["samples": 8])
        XCTAssertEqual(record.globalValidationAccuracy, 0.5, "only the valid report counts")
        let resumed = try Coordinator.loadJournal(outDir: r.outDir)
        XCTAssertEqual(resumed.completed.count, 2)
        XCTAssertEqual(resumed.checkpoint.metadata.metrics["global_val_accuracy"], 0.5)
    }
}

/// The robust strategies at small k.
final class RobustSmallKTests: XCTestCase {
    private let global = ["w": Tensor(shape: [2], data: [0, 0])]

    private func run(_ s: AggregationStrategy, _ values: [Float]) throws -> [Float] {
        s.begin(round: 1, global: global)
        for v in values { try s.accumulate(try ModelDelta([("w", Tensor(shape: [2], data: [v, v]))]), samples: 1) }
        return try s.finish()["w"]!.data
    }

    func testTrimmedMeanTrimsOneOutlierFromThreeUpdates() throws {
        XCTAssertEqual(try run(RobustAggregation(.trimmedMean(trim: 0.2)), [0.1, 0.2, 1e30]), [0.2, 0.2])
        XCTAssertEqual(try run(RobustAggregation(.trimmedMean(trim: 0.2)), [0.1, 0.3, 0.2, -1e30]), [0.15, 0.15], "one trimmed at each end of four")
        XCTAssertEqual(try run(RobustAggregation(.trimmedMean(trim: 0.2)), [0.1, 0.3]), [0.2, 0.2], "nothing to trim from two")
    }

    func testMedianIgnoresOneOutlierOfThree() throws {
        XCTAssertEqual(try run(RobustAggregation(.median), [0.1, 1e30, 0.3]), [0.3, 0.3])
    }

    func testKrumPicksAClusteredUpdateAndMultiKrumAveragesAllButTheOutlier() throws {
        let krum = Krum(multi: false)
        let picked = try run(krum, [0.1, 0.2, 3.4e38, 0.15])
        XCTAssertTrue([Float(0.1), 0.15, 0.2].contains(picked[0]), "one of the clustered updates, never the outlier: \(picked)")
        let multi = Krum(multi: true)
        let averaged = try run(multi, [0.1, 0.2, 3.4e38, 0.15])
        XCTAssertEqual(multi.selected, [0, 1, 3])
        XCTAssertEqual(averaged[0], 0.15, accuracy: 1e-6)
        XCTAssertTrue(averaged.allSatisfy(\.isFinite))
    }
}

/// Issue 16, point 4: a node hears why the coordinator stopped, and fails with it.
final class CoordinatorFailureTests: XCTestCase {
    func testANodeConnectedWhenTheCoordinatorFailsGetsTheReasonAndFails() throws {
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["a", "b"]) { config in
            config.minNodes = 2
            config.waitForNodes = 1.5   // "b" never comes
            config.heartbeatInterval = 0.2
        }
        defer { cleanup() }
        let port = coordinator.port
        let results = ResultsBox()
        let done = DispatchGroup()
        done.enter()
        Thread {
            defer { done.leave() }
            do { results.set("a", "rounds \(try FederatedNode(config: TinyFederation.node("a", secret: TinyFederation.secret(0), port: port)).run())") } catch {
                results.set("a", "\(error)")
            }
        }.start()
        XCTAssertThrowsError(try coordinator.run()) { XCTAssertTrue("\($0)".contains("only 1 of 2 nodes connected"), "\($0)") }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        let outcome = results.get("a") ?? ""
        XCTAssertTrue(outcome.contains("coordinator reported: the coordinator stopped: only 1 of 2 nodes connected"), outcome)
    }
}
