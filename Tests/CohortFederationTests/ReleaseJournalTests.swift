import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Resuming a journal whose last round record is ahead of the checkpoint (a crash between the
/// two writes, or a secure round that stopped after its release point): under privacy or secure
/// aggregation that round released something, so it stays in the journal, accounted and marked
/// unapplied, and is not run again; without either it is run again.
final class ReleaseJournalTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])

    private func line(round: Int, privacy: Bool, secure: Bool = false) -> String {
        var fields = [#""round":\#(round)"#, #""participants":["a"]"#, #""accepted":["a"]"#, #""rejected":{}"#, #""nodeMetrics":{}"#,
                      #""bytesDown":1"#, #""bytesUp":1"#, #""seconds":0.1"#, #""finishedAt":1"#]
        if privacy { fields += [#""noiseMultiplier":1.5"#, #""sampleRate":1"#, #""delta":1e-05"#, #""epsilon":\#(round)"#] }
        if secure { fields += [#""secureAggregationThreshold":2"#] }
        return "{" + fields.joined(separator: ",") + "}\n"
    }

    /// A journal: `global.ckpt` of round 1 and `rounds.jsonl` holding `lines`.
    private func journal(_ lines: [String]) throws -> (dir: String, weights: [(name: String, value: Tensor)]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-release-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let model = try Sequential(spec: spec, seed: 3)
        try CheckpointFile.save(Checkpoint(model: model, metadata: CheckpointMetadata(source: "test", metrics: ["round": 1])),
                                to: (dir as NSString).appendingPathComponent("global.ckpt"))
        try lines.joined().write(toFile: (dir as NSString).appendingPathComponent("rounds.jsonl"), atomically: true, encoding: .utf8)
        return (dir, model.stateDict())
    }

    func testAPrivateRoundAheadOfTheCheckpointStaysAccountedAndIsNotRunAgain() throws {
        let (dir, weights) = try journal([line(round: 1, privacy: true), line(round: 2, privacy: true)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (checkpoint, completed) = try Coordinator.loadJournal(outDir: dir)
        XCTAssertEqual(completed.map(\.round), [1, 2], "the round ahead of the checkpoint is kept")
        XCTAssertNil(completed[0].unapplied)
        XCTAssertTrue(completed[1].unapplied?.contains("not applied") ?? false, "\(completed[1].unapplied ?? "nil")")
        var config = Coordinator.Config(outDir: dir)
        config.port = 0
        config.rounds = 2
        config.finalEvaluation = false
        config.secrets = ["a": TinyFederation.secret(0)]
        config.plan.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: 1.5)
        let coordinator = try Coordinator(config: config, initial: checkpoint, strategy: FedAvg(), completed: completed)
        XCTAssertEqual(coordinator.accountant.epsilon(delta: 1e-5), RDPAccountant.epsilon(sampleRate: 1, noiseMultiplier: 1.5, steps: 2, delta: 1e-5),
                       accuracy: 1e-12, "both released rounds are accounted")
        // The run journals the kept round into the checkpoint first (nothing left to run here).
        XCTAssertEqual(try coordinator.run().count, 2)
        let (again, records) = try Coordinator.loadJournal(outDir: dir)
        XCTAssertEqual(again.metadata.metrics["round"], 2, "the checkpoint now records the kept round")
        XCTAssertEqual(records.count, 2)
        XCTAssertNotNil(records[1].unapplied, "still marked unapplied")
        for ((name, before), (_, after)) in zip(weights, again.tensors) { XCTAssertEqual(before, after, "\(name): the lost result was not applied") }
    }

    func testASecureRoundAheadOfTheCheckpointIsKeptAndAPlainOneRunsAgain() throws {
        let (secureDir, _) = try journal([line(round: 1, privacy: false, secure: true), line(round: 2, privacy: false, secure: true)])
        defer { try? FileManager.default.removeItem(atPath: secureDir) }
        XCTAssertEqual(try Coordinator.loadJournal(outDir: secureDir).completed.count, 2)
        let (plainDir, _) = try journal([line(round: 1, privacy: false), line(round: 2, privacy: false)])
        defer { try? FileManager.default.removeItem(atPath: plainDir) }
        let plain = try Coordinator.loadJournal(outDir: plainDir).completed
        XCTAssertEqual(plain.map(\.round), [1], "without privacy or secure aggregation the round is run again")
    }
}
