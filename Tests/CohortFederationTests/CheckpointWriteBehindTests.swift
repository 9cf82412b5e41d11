import XCTest
import CohortCheckpoint
@testable import CohortFederation
import CohortNN
import Foundation

/// The journal's checkpoint written behind the next round: on disk once `wait` returns, and a
/// failed write is not lost (the next journal, or the end of the run, throws it).
final class CheckpointWriteBehindTests: XCTestCase {
    private func checkpoint() throws -> Checkpoint {
        let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])
        return Checkpoint(model: try Sequential(spec: spec, seed: 1), metadata: CheckpointMetadata(source: "test"))
    }

    func testTheCheckpointIsOnDiskOnceWaitReturns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-wb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("global.ckpt").path
        let finished = ResultsBox()
        let write = CheckpointWriteBehind(try checkpoint(), to: path) { _ in finished.set("done", "yes") }
        try write.wait()
        try write.wait()   // a second wait returns at once
        XCTAssertEqual(finished.get("done"), "yes")
        XCTAssertEqual(try CheckpointFile.load(path).tensors.map(\.name), try checkpoint().tensors.map(\.name))
    }

    func testAFailedWriteIsThrownByWait() throws {
        let path = "/nonexistent-\(UUID().uuidString)/global.ckpt"
        let write = CheckpointWriteBehind(try checkpoint(), to: path) { _ in XCTFail("a failed write reported success") }
        XCTAssertThrowsError(try write.wait())
        XCTAssertThrowsError(try write.wait())
    }

    func testARunWhoseCheckpointCannotBeWrittenFailsAfterItsRound() throws {
        var outDir = ""
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["a"]) { config in
            config.rounds = 1
            config.finalEvaluation = false
            outDir = config.outDir
        }
        defer { cleanup() }
        // global.ckpt is a directory: the round records are written, the checkpoint's rename fails.
        try FileManager.default.createDirectory(atPath: (outDir as NSString).appendingPathComponent("global.ckpt/x"), withIntermediateDirectories: true)
        let done = DispatchGroup()
        done.enter()
        let port = coordinator.port
        Thread {
            defer { done.leave() }
            _ = try? FederatedNode(config: TinyFederation.node("a", secret: TinyFederation.secret(0), port: port)).run()
        }.start()
        XCTAssertThrowsError(try coordinator.run()) { error in
            XCTAssertTrue("\(error)".contains("global.ckpt"), "\(error)")
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        let records = try Coordinator.loadRoundRecords(outDir: outDir)
        XCTAssertEqual(records.count, 1, "the round ran and its record was written before the checkpoint failed")
    }
}
