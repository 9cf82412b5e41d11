import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// Secure-aggregation rounds in one process (a coordinator and node threads on loopback): a
/// masked input streamed over several chunks, a node whose training fails leaving the round
/// and staying connected, and a masked input the coordinator could not finish taking kept out
/// of the survivors.
final class SecureRoundTests: XCTestCase {
    private func temporaryDirectory(_ tag: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("cohort-secround-\(tag)-\(UUID().uuidString)").path
    }

    private func words(_ path: String) -> [UInt32]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
    }

    /// Runs `nodes` (name, data) against `coordinator` in threads; returns the records and each node's outcome and log.
    private func federate(_ coordinator: Coordinator, nodes: [(String, LabelledData)], configure: (inout FederatedNode.Config) -> Void = { _ in })
        throws -> (records: [Coordinator.RoundRecord], log: String, runs: [String: NodeRun])
    {
        var runs: [String: NodeRun] = [:]
        for (index, (name, data)) in nodes.enumerated() {
            var config = TinyFederation.node(name, secret: TinyFederation.secret(index), port: coordinator.port)
            config.train = data
            config.timeout = 20
            configure(&config)
            runs[name] = NodeRun(config)
        }
        let log = LockedLines()
        let records = try coordinator.run { log.append($0) }
        for run in runs.values { run.wait() }
        return (records, log.text, runs)
    }

    /// A masked input of 500 002 words (2 MB, two 1 MiB chunks) is streamed, taken whole and
    /// summed: the unmasked sum is the nodes' plain fixed-point sum, and the global model moves
    /// by that sum decoded and divided by the survivors' share of the samples.
    func testAMaskedInputLargerThanOneChunkIsStreamedAndSummed() throws {
        let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "features.0", units: 100_000), LayerSpec(.relu, name: "features.1"),
                                                       LayerSpec(.dense, name: "head", units: 2)])
        let dump = temporaryDirectory("big")
        defer { try? FileManager.default.removeItem(atPath: dump) }
        var plan = TrainingPlan()
        plan.secureAggregation = SecureAggregationPlan(threshold: 2)
        plan.learningRate = 0.01
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["a", "b"], spec: spec) { config in
            config.rounds = 1
            config.minNodes = 2
            config.roundTimeout = 30
            config.finalEvaluation = false
            config.plan = plan
            config.secureAggregationDump = dump
        }
        defer { cleanup() }
        let run = try federate(coordinator, nodes: [("a", TinyFederation.data), ("b", TinyFederation.data)]) { $0.secureAggregationDump = dump }
        XCTAssertEqual(run.records.count, 1, run.log)
        XCTAssertEqual(run.records.first?.accepted, ["a", "b"], run.log)
        let encoding = try SecureUpdateEncoding(plan: plan, architecture: spec, participants: 2, threshold: 2)
        XCTAssertEqual(encoding.length, 500_002)
        XCTAssertGreaterThan(4 * encoding.length, StreamedMessage.defaultChunkSize, "the vector needs more than one chunk")
        XCTAssertGreaterThanOrEqual(run.records.first?.bytesUp ?? 0, 2 * 4 * encoding.length)
        let session: UInt64 = 1 << 8
        let sum = try XCTUnwrap(words("\(dump)/sum-s\(session).u32"))
        var plain = [UInt32](repeating: 0, count: encoding.length)
        for id in 1...2 {
            let input = try XCTUnwrap(words("\(dump)/input-s\(session)-n\(id).u32"))
            for i in plain.indices { plain[i] &+= input[i] }
        }
        XCTAssertEqual(sum, plain)
        var noNoise = GaussianNoise.seeded(0)
        let mean = try encoding.mean(sum: sum, divisor: 1, centralNoise: 0, noise: &noNoise)
        let initial = try Sequential(spec: spec, seed: 1).stateDict()
        let final = try CheckpointFile.load((coordinator.config.outDir as NSString).appendingPathComponent("global.ckpt")).tensors
        var moved = 0
        for ((name, before), (_, after)) in zip(initial, final) {
            let m = try XCTUnwrap(mean[name])
            for i in stride(from: 0, to: before.count, by: 997) {
                XCTAssertEqual(after.data[i] - before.data[i], m.data[i], accuracy: 1e-6, "\(name)[\(i)]")
                if m.data[i] != 0 { moved += 1 }
            }
        }
        XCTAssertGreaterThan(moved, 10, "the update is not trivially zero")
    }

    /// A node whose local training fails (its inputs hold NaN) leaves the round with
    /// SECAGG_LEAVE and a fixed reason code (no error text), stays connected, and is asked again next round; the others'
    /// rounds complete without it.
    func testANodeWhoseTrainingFailsLeavesTheRoundAndStaysConnected() throws {
        var plan = TrainingPlan()
        plan.secureAggregation = SecureAggregationPlan(threshold: 2)
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["a", "b", "c"]) { config in
            config.rounds = 2
            config.minNodes = 3
            config.quorum = 2
            config.roundTimeout = 20
            config.finalEvaluation = false
            config.plan = plan
        }
        defer { cleanup() }
        var broken = TinyFederation.data
        broken.inputs.data[3] = .nan
        let run = try federate(coordinator, nodes: [("a", TinyFederation.data), ("b", TinyFederation.data), ("c", broken)])
        XCTAssertEqual(run.records.count, 2, run.log)
        for record in run.records {
            XCTAssertEqual(record.accepted, ["a", "b"], run.log)
            let reason = record.rejected["c"] ?? ""
            // Only the fixed code travels and is journaled, never the error's text (issue 18, point 4).
            XCTAssertTrue(reason.hasSuffix("left the round: training_failed"), reason)
            XCTAssertFalse(reason.contains("finite"), reason)
        }
        XCTAssertFalse(run.log.contains("must be finite"), "the coordinator never sees the node's error text: \(run.log)")
        XCTAssertTrue(run.log.contains("'c' left the secure round at step 'masked input'") && run.log.contains("it stays connected"), run.log)
        let c = try XCTUnwrap(run.runs["c"])
        XCTAssertEqual(c.outcome, "rounds 2", "the node served both rounds and ended at BYE: \(c.log)")
        XCTAssertTrue(c.log.contains("leaving the round (staying connected for later rounds)"), c.log)
        XCTAssertFalse(c.log.contains("lost the coordinator"), "it never had to reconnect: \(c.log)")
    }

    /// Issue 18, point 7: a threshold that is not a majority (t = 2 of 4) runs only because the
    /// plan sets allowMinorityThreshold, and both the coordinator and every node log a warning.
    func testAMinorityThresholdAllowedByThePlanRunsWithAWarningOnBothSides() throws {
        var plan = TrainingPlan()
        plan.secureAggregation = SecureAggregationPlan(threshold: 2, allowMinorityThreshold: true)
        let names = ["a", "b", "c", "d"]
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: names) { config in
            config.rounds = 1
            config.minNodes = 4
            config.roundTimeout = 20
            config.finalEvaluation = false
            config.plan = plan
        }
        defer { cleanup() }
        let run = try federate(coordinator, nodes: names.map { ($0, TinyFederation.data) })
        XCTAssertEqual(run.records.count, 1, run.log)
        XCTAssertEqual(run.records.first?.secureAggregationThreshold, 2, run.log)
        let warning = "WARNING: secureAggregation.threshold 2 is not a majority of the round's 4 participants"
        XCTAssertTrue(run.log.contains(warning), run.log)
        for name in names {
            let node = try XCTUnwrap(run.runs[name])
            XCTAssertTrue(node.log.contains(warning), "\(name): \(node.log)")
        }
    }

    /// The coordinator takes a node into the survivors only once it has done everything with
    /// its masked input: when writing the testing dump fails, no node joins U₃, every attempt
    /// is abandoned before anything is unmasked, and the run gives up after three.
    func testAMaskedInputTheCoordinatorCouldNotFinishTakingIsNotASurvivor() throws {
        let blocker = temporaryDirectory("blocker")
        FileManager.default.createFile(atPath: blocker, contents: Data("a file, not a folder".utf8))
        defer { try? FileManager.default.removeItem(atPath: blocker) }
        var plan = TrainingPlan()
        plan.secureAggregation = SecureAggregationPlan(threshold: 2)
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["a", "b"]) { config in
            config.rounds = 1
            config.minNodes = 2
            config.roundTimeout = 20
            config.finalEvaluation = false
            config.plan = plan
            config.secureAggregationDump = blocker + "/dump"
        }
        defer { cleanup() }
        XCTAssertThrowsError(try federate(coordinator, nodes: [("a", TinyFederation.data), ("b", TinyFederation.data)])) {
            XCTAssertTrue("\($0)".contains("round 1 failed 3 times"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: (coordinator.config.outDir as NSString).appendingPathComponent("rounds.jsonl")),
                       "no attempt reached the release point")
    }
}

/// Lines appended from several threads.
final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.withLock { lines.append(s) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") } }
}
