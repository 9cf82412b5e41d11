import XCTest
import CohortCLI
import CohortCheckpoint
import CohortTransport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Coordinator and nodes as separate `cohort` processes on loopback.
final class FederationProcessTests: XCTestCase {
    private var binary: URL { CohortBinary.url }

    /// The shared three sites, with this suite's plan and extra files.
    private func makeSites(in dir: URL) throws {
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"learningRate":0.05,"codec":{"topKFraction":0.5,"quantization":{"int8":{"blockSize":64}},"zlibLevel":1}}"#)
        try "00000000000000000000000000000bad\n".write(to: dir.appendingPathComponent("wrong.key"), atomically: true, encoding: .utf8)
    }

    private func runFederation(tls: Bool) throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-fed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try makeSites(in: dir)
        let certs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CohortTransportTests/Fixtures")
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let initProc = try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"], stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        // The key is copied with mode 0600: git checks it out world-readable, which is refused.
        let key = dir.appendingPathComponent("coordinator.key")
        if tls { try FileManager.default.copyItem(at: certs.appendingPathComponent("coordinator.key"), to: key); chmod(key.path, 0o600) }
        let security = tls ? ["--tls-cert", certs.appendingPathComponent("coordinator.pem").path, "--tls-key", key.path] : ["--insecure"]
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                      "--listen", "127.0.0.1:\(port)", "--rounds", "3", "--min-nodes", "3", "--round-timeout", "30",
                                      "--wait", "30", "--out", p("out")] + security, stderr: dir.appendingPathComponent("coordinator.log"))
        let nodeSecurity = tls ? ["--tls-ca", certs.appendingPathComponent("ca.pem").path] : ["--insecure"]
        // A node with the wrong secret is refused with a clear error (run to completion while the
        // coordinator waits for the real nodes, so the refusal cannot race the end of the run).
        let intruder = try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site1", "--secret-file", p("wrong.key"),
                                   "--data", p("site1.csv")] + nodeSecurity, stderr: dir.appendingPathComponent("intruder.log"))
        let intruderStatus = ProcessHarness.wait(intruder, seconds: 30)
        let intruderLog = (try? String(contentsOfFile: p("intruder.log"), encoding: .utf8)) ?? ""
        XCTAssertEqual(intruderStatus, 1, intruderLog)
        XCTAssertTrue(intruderLog.contains("authentication failed (unknown node name or wrong secret)"), intruderLog)
        let nodes = try (0..<3).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                        "--data", p("site\(s).csv"), "--test", p("site\(s).csv")] + (s == 0 ? ["--save-model", p("site0.final.ckpt")] : [])
                        + nodeSecurity, stderr: dir.appendingPathComponent("node\(s).log"))
        }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 90), 0, (try? String(contentsOfFile: p("coordinator.log"), encoding: .utf8)) ?? "")
        for (s, n) in nodes.enumerated() { XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0, (try? String(contentsOfFile: p("node\(s).log"), encoding: .utf8)) ?? "") }
        // The journal: three rounds, every node accepted, validation accuracy of the global model rises.
        let lines = try String(contentsOfFile: p("out/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        for r in records { XCTAssertEqual((r["accepted"] as? [String])?.sorted(), ["site0", "site1", "site2"]) }
        let accuracy = records.map { $0["globalValidationAccuracy"] as? Double ?? 0 }
        XCTAssertGreaterThan(accuracy[2], accuracy[0], "global validation accuracy by round: \(accuracy)")
        XCTAssertGreaterThan(accuracy[2], 0.8, "\(accuracy)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: p("out/global.ckpt")))
        // After the last round every node scored the final model on its test file (EVALUATE),
        // and every round's UPDATE carried the test accuracy of the model the node received.
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("out/evaluation.json"))) as! [String: Any]
        let evaluated = evaluation["nodes"] as? [String: [String: Any]] ?? [:]
        XCTAssertEqual(evaluated.keys.sorted(), ["site0", "site1", "site2"], "\(evaluation)")
        XCTAssertEqual(evaluation["round"] as? Int, 3)
        for (name, m) in evaluated {
            XCTAssertGreaterThan(m["test_accuracy"] as? Double ?? 0, 0.8, name)
            XCTAssertEqual(m["test_samples"] as? Double, Double(["site0": 200, "site1": 120, "site2": 60][name]!), name)
        }
        // The site keeps its model: with FedAvg and no adaptation step it is the final global model.
        let kept = try CheckpointFile.load(p("site0.final.ckpt"))
        let global = try CheckpointFile.load(p("out/global.ckpt"))
        XCTAssertEqual(kept.tensors.map(\.name), global.tensors.map(\.name))
        XCTAssertEqual(kept.tensors.map(\.value), global.tensors.map(\.value), "the saved model is the final global model, bit for bit")
        XCTAssertEqual(kept.architecture, global.architecture)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p("site1.final.ckpt")))
        let metrics2 = (records[1]["nodeMetrics"] as? [String: [String: Any]])?["site0"]
        XCTAssertNotNil(metrics2?["test_accuracy"] as? Double, "\(String(describing: metrics2))")
    }

    func testThreeNodesThreeRoundsPlainTCP() throws { try runFederation(tls: false) }

    func testGarbageAndOversizedFramesCostOnlyTheirConnectionAndAKilledNodeLeavesTheQuorum() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-fed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try makeSites(in: dir)
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        // Site 2 gets a large dataset and more local epochs so its training is slow enough to kill mid-round.
        var big = (0..<6).map { "x\($0)" }.joined(separator: ",") + ",target\n"
        for i in 0..<60_000 { big += (0..<6).map { j in String(format: "%.3f", Double((i * 7 + j * 13) % 100) / 50 - 1) }.joined(separator: ",") + ",\(i % 2)\n" }
        try big.write(to: dir.appendingPathComponent("site2.csv"), atomically: true, encoding: .utf8)
        try #"{"batchSize":16,"localEpochs":2}"#.write(to: dir.appendingPathComponent("plan.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(ProcessHarness.wait(try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")], stderr: dir.appendingPathComponent("i.log")), seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        let coordinatorLog = dir.appendingPathComponent("coordinator.log")
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                      "--listen", "127.0.0.1:\(port)", "--rounds", "3", "--min-nodes", "3", "--quorum", "2", "--round-timeout", "30",
                                      "--wait", "30", "--out", p("out"), "--insecure"], stderr: coordinatorLog)
        // Hostile clients first: an HTTP request, and a frame header announcing 2 GB.
        Thread.sleep(forTimeInterval: 0.3)
        let http = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 5)
        try http.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), timeout: 2)
        let huge = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 5)
        var header = Frame(version: 1, type: MessageType.hello.rawValue, payload: []).encoded()
        header[8] = 0; header[9] = 0; header[10] = 0; header[11] = 0x80
        try huge.write(header, timeout: 2)
        let nodes = try (0..<3).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                        "--data", p("site\(s).csv"), "--insecure"], stderr: dir.appendingPathComponent("node\(s).log"))
        }
        // Kill site2 while it trains in round 2.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !((try? String(contentsOf: coordinatorLog, encoding: .utf8)) ?? "").contains("round 1 done") { Thread.sleep(forTimeInterval: 0.02) }
        kill(nodes[2].processIdentifier, SIGKILL)
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 90), 0)
        http.close(); huge.close()
        let log = try String(contentsOf: coordinatorLog, encoding: .utf8)
        XCTAssertTrue(log.contains("not a Cohort frame"), log)
        XCTAssertTrue(log.contains("frame payload of 2147483648 bytes exceeds the limit"), log)
        let records = try String(contentsOfFile: p("out/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(records.count, 3, log)
        XCTAssertEqual((records[0]["accepted"] as? [String])?.count, 3)
        // Rounds take tens of milliseconds here, so the kill lands in round 2 or 3: whichever it
        // was completed with the other two nodes, recording why site2's update is missing.
        let afterKill = records.dropFirst().first { ($0["rejected"] as? [String: String])?["site2"] != nil }
        XCTAssertNotNil(afterKill, "a round after the kill records site2 as rejected: \(log)")
        XCTAssertEqual((afterKill?["accepted"] as? [String])?.sorted(), ["site0", "site1"], log)
        for n in nodes.prefix(2) { XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0) }
    }
    func testThreeNodesThreeRoundsOverTLS() throws { try runFederation(tls: true) }

    func testCoordinatorKilledAndResumedEndsWithTheSameWeightsAsAnUninterruptedRun() throws {
        try killAndResume(plan: #"{"batchSize":32,"localEpochs":2,"seed":5}"#)
    }

    /// FedAdam's server moments are journaled with every round and restored on --resume.
    func testFedAdamKilledAndResumedEndsWithTheSameWeightsAsAnUninterruptedRun() throws {
        let dir = try killAndResume(plan: #"{"batchSize":32,"localEpochs":2,"seed":5,"strategy":"fedadam"}"#, keep: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("outB").path)
        XCTAssertEqual(files.filter { $0.hasPrefix("server-state-") }, ["server-state-5.ckpt"], "only the last round's state is kept: \(files)")
        let state = try CheckpointFile.load(dir.appendingPathComponent("outB/server-state-5.ckpt").path)
        XCTAssertEqual(state.metadata.metrics["round"], 5)
        XCTAssertEqual(Set(state.tensors.map(\.name)), ["m/features.0.weight", "m/features.0.bias", "m/head.weight", "m/head.bias",
                                                       "v/features.0.weight", "v/features.0.bias", "v/head.weight", "v/head.bias"])
    }

    /// Runs 5 rounds uninterrupted (outA) and killed with SIGKILL after at least two journaled
    /// rounds then resumed (outB); asserts bit-identical final weights. Returns the folder
    /// when `keep` (the caller removes it).
    @discardableResult
    private func killAndResume(plan: String, keep: Bool = false) throws -> URL {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(at: dir) } }
        try makeSites(in: dir)
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        // A large site makes rounds slow enough (~0.1 s) to kill the coordinator mid-run.
        var big = (0..<6).map { "x\($0)" }.joined(separator: ",") + ",target\n"
        for i in 0..<40_000 { big += (0..<6).map { j in String(format: "%.3f", Double((i * 7 + j * 13) % 100) / 50 - 1 + (i % 2 == 0 ? 0.3 : -0.3)) }.joined(separator: ",") + ",\(i % 2)\n" }
        try big.write(to: dir.appendingPathComponent("site2.csv"), atomically: true, encoding: .utf8)
        try plan.write(to: dir.appendingPathComponent("plan.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(ProcessHarness.wait(try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")], stderr: dir.appendingPathComponent("i.log")), seconds: 30), 0)

        func coordinatorArgs(_ port: UInt16, _ out: String) -> [String] {
            ["coordinator", "--plan", p("plan.json"), "--secrets", p("secrets.txt"), "--listen", "127.0.0.1:\(port)", "--rounds", "5",
             "--min-nodes", "3", "--round-timeout", "30", "--wait", "30", "--out", p(out), "--insecure"]
        }
        func nodes(_ port: UInt16, _ tag: String) throws -> [Process] {
            try (0..<3).map { s in
                try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                            "--data", p("site\(s).csv"), "--insecure"], stderr: dir.appendingPathComponent("\(tag)-node\(s).log"))
            }
        }
        // A: uninterrupted.
        let portA = try ProcessHarness.freePort()
        let a = try ProcessHarness.launch(coordinatorArgs(portA, "outA") + ["--model", p("init.ckpt")], stderr: dir.appendingPathComponent("a.log"))
        let nodesA = try nodes(portA, "a")
        XCTAssertEqual(ProcessHarness.wait(a, seconds: 120), 0, (try? String(contentsOfFile: p("a.log"), encoding: .utf8)) ?? "")
        for n in nodesA { XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0) }
        // B: killed after at least two journaled rounds, then resumed; the nodes reconnect on their own.
        let portB = try ProcessHarness.freePort()
        let b1 = try ProcessHarness.launch(coordinatorArgs(portB, "outB") + ["--model", p("init.ckpt")], stderr: dir.appendingPathComponent("b1.log"))
        let nodesB = try nodes(portB, "b")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let lines = ((try? String(contentsOfFile: p("outB/rounds.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n").count
            if lines >= 2 { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        kill(b1.processIdentifier, SIGKILL)
        _ = ProcessHarness.wait(b1, seconds: 5)
        let b2 = try ProcessHarness.launch(coordinatorArgs(portB, "outB") + ["--resume"], stderr: dir.appendingPathComponent("b2.log"))
        XCTAssertEqual(ProcessHarness.wait(b2, seconds: 120), 0, (try? String(contentsOfFile: p("b2.log"), encoding: .utf8)) ?? "")
        for n in nodesB { XCTAssertEqual(ProcessHarness.wait(n, seconds: 20), 0) }
        let b2log = try String(contentsOfFile: p("b2.log"), encoding: .utf8)
        let resumedAfter = b2log.components(separatedBy: "resuming from ").dropFirst().first.flatMap { $0.components(separatedBy: "after round ").last }
            .flatMap { Int($0.prefix { $0.isNumber }) }
        XCTAssertNotNil(resumedAfter, b2log)
        XCTAssertLessThan(resumedAfter ?? 5, 5, "the kill landed before the last round: \(b2log)")
        let finalA = try CheckpointFile.load(p("outA/global.ckpt")), finalB = try CheckpointFile.load(p("outB/global.ckpt"))
        XCTAssertEqual(finalA.metadata.metrics["round"], 5)
        XCTAssertEqual(finalB.metadata.metrics["round"], 5)
        XCTAssertEqual(finalA.tensors.map(\.name), finalB.tensors.map(\.name))
        XCTAssertEqual(finalA.tensors.map { $0.value.data.map(\.bitPattern) }, finalB.tensors.map { $0.value.data.map(\.bitPattern) },
                       "resumed run's final weights are bit-identical")
        XCTAssertEqual(try String(contentsOfFile: p("outB/rounds.jsonl"), encoding: .utf8).split(separator: "\n").count, 5)
        return dir
    }

    func testNodeWithAMissingColumnFailsClearly() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-node-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "a,b\n1,2\n".write(to: dir.appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
        try "000102030405060708090a0b0c0d0e0f".write(to: dir.appendingPathComponent("k"), atomically: true, encoding: .utf8)
        let node = try ProcessHarness.launch(["node", "--name", "x", "--secret-file", dir.appendingPathComponent("k").path, "--data",
                               dir.appendingPathComponent("d.csv").path, "--insecure"], stderr: dir.appendingPathComponent("log"))
        XCTAssertEqual(ProcessHarness.wait(node, seconds: 20), 1)
        let log = try String(contentsOfFile: dir.appendingPathComponent("log").path, encoding: .utf8)
        XCTAssertTrue(log.contains("no column 'target' for the label (columns: a, b)"), log)
    }
}
