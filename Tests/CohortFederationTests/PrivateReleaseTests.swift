import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Issue 18, point 2: under DP nothing un-noised computed from the nodes' data goes into the
/// released checkpoint. The nodes are `CraftedNode`s reporting a known validation accuracy.
final class PrivateReleaseTests: XCTestCase {
    private let head = [("head.weight", [2, 2]), ("head.bias", [2])]

    /// Runs one round with two crafted nodes reporting `global_val_accuracy` 0.25 and 0.75 and
    /// returns the journaled round record and the metadata metrics of `global.ckpt`.
    private func release(plan: TrainingPlan) throws -> (record: Coordinator.RoundRecord, metadata: [String: Double]) {
        let names = ["a", "b"]
        let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let model = try Sequential(spec: spec, seed: 1)
        var outDir = ""
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: names) { config in
            config.rounds = 1
            config.minNodes = 2
            config.quorum = 1
            config.roundTimeout = 20
            config.finalEvaluation = false
            config.plan = plan
            outDir = config.outDir
        }
        defer { cleanup() }
        let c2 = try Coordinator(config: coordinator.config, initial: Checkpoint(model: model, metadata: CheckpointMetadata(source: "test")),
                                 strategy: try StrategyFactory.make(plan, model: model))
        let accuracies = ["a": 0.25, "b": 0.75]
        let done = names.enumerated().map { i, name in
            CraftedNode.start(port: c2.port, name: name, secret: TinyFederation.secret(i), samples: 8,
                              delta: head.map { ($0.0, $0.1, 0.01) }, metrics: ["global_val_accuracy": accuracies[name]!])
        }
        let records = try c2.run()
        for d in done { XCTAssertEqual(d.wait(timeout: .now() + 30), .success) }
        let checkpoint = try CheckpointFile.load((outDir as NSString).appendingPathComponent("global.ckpt"))
        return (try XCTUnwrap(records.first), checkpoint.metadata.metrics)
    }

    func testWithoutPrivacyTheCheckpointCarriesTheNodesMeanValidationAccuracy() throws {
        let r = try release(plan: TrainingPlan())
        XCTAssertEqual(r.metadata["global_val_accuracy"] ?? .nan, 0.5, accuracy: 1e-12)
        XCTAssertEqual(r.metadata["round"], 1)
    }

    func testUnderCentralDPTheReleasedCheckpointCarriesNoUnnoisedAccuracy() throws {
        var plan = TrainingPlan()
        plan.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: 1)
        let r = try release(plan: plan)
        XCTAssertNotNil(r.record.epsilon, "the round ran under DP")
        XCTAssertEqual(r.metadata, ["round": 1], "only the round number, nothing computed from the nodes' scores")
        // The coordinator-private journal still has it (rounds.jsonl is not released).
        XCTAssertEqual(r.record.globalValidationAccuracy ?? .nan, 0.5, accuracy: 1e-12)
    }
}
