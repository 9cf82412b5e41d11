import XCTest
import CohortCheckpoint
import Foundation

/// MODEL deltas across real processes: a coordinator and three nodes on loopback, run once
/// with deltas and once with `--full-models`, must end with the same weights bit for bit, and
/// with a frozen backbone every MODEL after the first round is a small fraction of a whole one.
final class DownlinkProcessTests: XCTestCase {
    /// A 6-256-256-2 MLP: the backbone (`features.*`) is 99% of its 68k parameters.
    private let arch = #"{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":256},{"kind":"relu","name":"features.1"},"#
        + #"{"kind":"dense","name":"features.2","units":256},{"kind":"relu","name":"features.3"},{"kind":"dense","name":"head","units":2}]}"#

    private struct Run {
        let records: [[String: Any]]
        let final: Checkpoint
        let log: String
        let evaluated: [String]
    }

    /// Runs the federation in `dir/<tag>` and returns its journal, final model and log.
    private func federate(in dir: URL, tag: String, rounds: Int, flags: [String]) throws -> Run {
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "\(rounds)", "--min-nodes", "3", "--round-timeout", "30",
                                                     "--wait", "30", "--out", p(tag), "--insecure"] + flags, stderr: dir.appendingPathComponent("\(tag).log"))
        let nodes = try (0..<3).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s).csv"), "--insecure"], stderr: dir.appendingPathComponent("\(tag)-node\(s).log"))
        }
        let log = { (try? String(contentsOfFile: p("\(tag).log"), encoding: .utf8)) ?? "" }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 60), 0, log())
        for (s, n) in nodes.enumerated() {
            XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0, (try? String(contentsOfFile: p("\(tag)-node\(s).log"), encoding: .utf8)) ?? "")
        }
        let records = try String(contentsOfFile: p("\(tag)/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: p("\(tag)/evaluation.json")))) as! [String: Any]
        return Run(records: records, final: try CheckpointFile.load(p("\(tag)/global.ckpt")), log: log(),
                   evaluated: (evaluation["nodes"] as? [String: Any] ?? [:]).keys.sorted())
    }

    private func sites(plan: String) throws -> URL {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-downlink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try ProcessHarness.writeSites(in: dir, plan: plan)
        try arch.write(to: dir.appendingPathComponent("arch.json"), atomically: true, encoding: .utf8)
        let initProc = try ProcessHarness.launch(["model", "init", "--arch", dir.appendingPathComponent("arch.json").path,
                                                  "--out", dir.appendingPathComponent("init.ckpt").path, "--seed", "1"], stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0)
        return dir
    }

    private func assertSameBits(_ a: Checkpoint, _ b: Checkpoint, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name), file: file, line: line)
        XCTAssertEqual(a.tensors.map { $0.value.data.map(\.bitPattern) }, b.tensors.map { $0.value.data.map(\.bitPattern) },
                       "final weights with MODEL deltas and with --full-models", file: file, line: line)
    }

    func testAFrozenBackboneSendsOnlyTheHeadAfterTheFirstRoundAndEndsAsWithFullModels() throws {
        let dir = try sites(plan: #"{"batchSize":16,"learningRate":0.05,"seed":3,"trainablePrefixes":["head"]}"#)
        defer { try? FileManager.default.removeItem(at: dir) }
        let deltas = try federate(in: dir, tag: "deltas", rounds: 3, flags: [])
        let full = try federate(in: dir, tag: "full", rounds: 3, flags: ["--full-models"])
        assertSameBits(deltas.final, full.final)
        let down = deltas.records.map { $0["bytesDown"] as? Int ?? 0 }, fullDown = full.records.map { $0["bytesDown"] as? Int ?? 0 }
        XCTAssertEqual(deltas.records.map { $0["deltaModels"] as? Int }, [0, 3, 3], deltas.log)
        XCTAssertEqual(full.records.map { $0["deltaModels"] as? Int }, [0, 0, 0], full.log)
        XCTAssertEqual(down[0], fullDown[0], "round 1: every node gets the whole model either way")
        // Whole models are 3 × ~272 KB; the head is 514 floats.
        XCTAssertGreaterThan(down[0], 3 * 68_098 * 4)
        for r in 1..<3 {
            XCTAssertEqual(fullDown[r], fullDown[0], "--full-models sends the whole model every round")
            XCTAssertLessThan(down[r] * 40, down[0], "round \(r + 1) MODEL bytes \(down) with deltas")
        }
        XCTAssertTrue(deltas.log.contains("down (3 as deltas)"), deltas.log)
        // The final EVALUATE goes out as a delta too, and every node rebuilt the model.
        XCTAssertEqual(deltas.evaluated, ["site0", "site1", "site2"], deltas.log)
    }

    /// FedAdam moves every tensor that got updates, and with --fraction a node left out of a
    /// round gets the tensors changed since the older version it acknowledged.
    func testSampledNodesAndFedAdamEndAsWithFullModels() throws {
        let dir = try sites(plan: #"{"batchSize":32,"learningRate":0.05,"seed":5,"strategy":"fedadam","trainablePrefixes":["features.2","head"]}"#)
        defer { try? FileManager.default.removeItem(at: dir) }
        let sampling = ["--fraction", "0.6", "--quorum", "2"]
        let deltas = try federate(in: dir, tag: "deltas", rounds: 4, flags: sampling)
        let full = try federate(in: dir, tag: "full", rounds: 4, flags: sampling + ["--full-models"])
        assertSameBits(deltas.final, full.final)
        XCTAssertEqual(deltas.records.map { ($0["participants"] as? [String])?.count }, [2, 2, 2, 2])
        let sent = deltas.records.map { $0["deltaModels"] as? Int ?? 0 }
        XCTAssertGreaterThan(sent.reduce(0, +), 0, "some MODELs went as deltas: \(sent)")
        let down = deltas.records.map { $0["bytesDown"] as? Int ?? 0 }, fullDown = full.records.map { $0["bytesDown"] as? Int ?? 0 }
        XCTAssertLessThan(down.reduce(0, +), fullDown.reduce(0, +), "\(down) vs \(fullDown)")
        XCTAssertEqual(deltas.evaluated, ["site0", "site1", "site2"], deltas.log)
    }
}
