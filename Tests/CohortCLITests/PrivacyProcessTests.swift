import XCTest
import CohortCLI
import CohortCheckpoint
import CohortFederation
import CohortTransport
import Foundation

/// Central DP-FedAvg across real processes: a `cohort coordinator` with `--dp-*` flags and three
/// `cohort node` processes on loopback.
final class PrivacyProcessTests: XCTestCase {
    private var binary: URL { CohortBinary.url }

    private func launch(_ args: [String], stderr: URL) throws -> Process {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: stderr)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    private func wait(_ p: Process, seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { p.terminate(); return nil }
        return p.terminationStatus
    }

    private func freePort() throws -> UInt16 {
        let l = try TCPListener(host: "127.0.0.1", port: 0)
        defer { l.close() }
        return l.port
    }

    /// Three sites with two Gaussian classes in 6 features; an int8+zlib plan (no top-k).
    private func makeSites(in dir: URL) throws {
        var state: UInt64 = 42
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        func gauss() -> Double { (-2 * log(max(uniform(), 1e-12))).squareRoot() * cos(2 * .pi * uniform()) }
        var secrets = ""
        for (s, (n, shift)) in [(200, 0.0), (120, 0.5), (60, -0.5)].enumerated() {
            var csv = (0..<6).map { "x\($0)" }.joined(separator: ",") + ",target\n"
            for i in 0..<n {
                let y = i % 2
                let xs = (0..<6).map { j in gauss() + (y == 1 ? 1.0 : -1.0) * (j < 3 ? 1 : 0.2) + shift }
                csv += xs.map { String(format: "%.4f", $0) }.joined(separator: ",") + ",\(y)\n"
            }
            try csv.write(to: dir.appendingPathComponent("site\(s).csv"), atomically: true, encoding: .utf8)
            let key = String(format: "%032llx", 0x1234_5678_9abc_def0 &+ UInt64(s))
            secrets += "site\(s) \(key)\n"
            try (key + "\n").write(to: dir.appendingPathComponent("site\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(to: dir.appendingPathComponent("secrets.txt"), atomically: true, encoding: .utf8)
        try #"{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},{"kind":"relu","name":"features.1"},{"kind":"dense","name":"head","units":2}]}"#
            .write(to: dir.appendingPathComponent("arch.json"), atomically: true, encoding: .utf8)
        try #"{"batchSize":16,"learningRate":0.05,"codec":{"quantization":{"int8":{"blockSize":64}},"zlibLevel":1}}"#
            .write(to: dir.appendingPathComponent("plan.json"), atomically: true, encoding: .utf8)
        try #"{"codec":{"topKFraction":0.1,"quantization":{"none":{}}}}"#.write(to: dir.appendingPathComponent("topk.json"), atomically: true, encoding: .utf8)
    }

    private struct Run {
        let status: Int32?
        let log: String
        let records: [Coordinator.RoundRecord]
    }

    /// Runs a coordinator with `extra` flags and three nodes; returns its status, log and journal.
    private func federate(_ dir: URL, rounds: Int, extra: [String], out: String = "out") throws -> Run {
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let port = try freePort()
        let logURL = dir.appendingPathComponent("\(out).log")
        let coordinator = try launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                      "--listen", "127.0.0.1:\(port)", "--rounds", "\(rounds)", "--min-nodes", "3", "--round-timeout", "30",
                                      "--wait", "30", "--out", p(out), "--insecure"] + extra, stderr: logURL)
        let nodes = try (0..<3).map { s in
            try launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                        "--data", p("site\(s).csv"), "--insecure"], stderr: dir.appendingPathComponent("\(out)-node\(s).log"))
        }
        let status = wait(coordinator, seconds: 90)
        for (s, n) in nodes.enumerated() {
            XCTAssertEqual(wait(n, seconds: 15), 0, (try? String(contentsOfFile: p("\(out)-node\(s).log"), encoding: .utf8)) ?? "")
        }
        let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return Run(status: status, log: log, records: (try? Coordinator.loadRoundRecords(outDir: p(out))) ?? [])
    }

    private func setUp(_ tag: String) throws -> URL {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-dp-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try makeSites(in: dir)
        let initProc = try launch(["model", "init", "--arch", dir.appendingPathComponent("arch.json").path, "--out",
                                   dir.appendingPathComponent("init.ckpt").path, "--seed", "1"], stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(wait(initProc, seconds: 30), 0)
        return dir
    }

    /// `--dp-epsilon 8 --dp-delta 1e-5 --dp-clip 1`: σ is chosen for the 3 planned rounds at
    /// q = 1; every round journals ε, increasing, ≤ 8, and the last equals the accountant's ε for
    /// (σ, q, 3 steps) within 1e-9. Nodes report their pre-clip norms.
    func testThreeNodesUnderABudgetJournalIncreasingEpsilon() throws {
        let dir = try setUp("budget")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try federate(dir, rounds: 3, extra: ["--dp-epsilon", "8", "--dp-delta", "1e-5", "--dp-clip", "1"])
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertEqual(run.records.count, 3, run.log)
        let eps = run.records.compactMap(\.epsilon)
        XCTAssertEqual(eps.count, 3, run.log)
        for (a, b) in zip(eps, eps.dropFirst()) { XCTAssertLessThan(a, b, "ε increases: \(eps)") }
        XCTAssertLessThanOrEqual(eps.last ?? .infinity, 8)
        let expectedSigma = try RDPAccountant.noiseMultiplier(forEpsilon: 8, delta: 1e-5, sampleRate: 1, steps: 3)
        for r in run.records {
            XCTAssertEqual(r.noiseMultiplier, expectedSigma)
            XCTAssertEqual(r.sampleRate, 1)
            XCTAssertEqual(r.delta, 1e-5)
            for s in ["site0", "site1", "site2"] {
                let m = r.nodeMetrics[s] ?? [:]
                XCTAssertNotNil(m["update_norm"], "node \(s) reports its pre-clip norm: \(m)")
                XCTAssertNotNil(m["clipped"])
            }
        }
        let reference = RDPAccountant.epsilon(sampleRate: 1, noiseMultiplier: expectedSigma, steps: 3, delta: 1e-5)
        XCTAssertEqual(eps.last ?? 0, reference, accuracy: 1e-9)
        XCTAssertTrue(run.log.contains("central DP: clip C = 1.0"), run.log)
        XCTAssertTrue(run.log.contains("round 3 done") && run.log.contains("ε = "), run.log)
    }

    /// A budget too small for the planned rounds: with σ given (`--dp-noise 2`) and ε ≤ 4, the
    /// coordinator runs the rounds that fit, refuses the next one with a message naming ε spent
    /// and the budget, and exits 0 with the journal intact. Resuming restores the accountant
    /// from the journal and stops again without running a round.
    func testABudgetTooSmallForThePlannedRoundsStopsEarlyAndResumeKeepsTheAccount() throws {
        let dir = try setUp("stop")
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["--dp-epsilon", "4", "--dp-noise", "2", "--dp-clip", "1", "--dp-delta", "1e-5"]
        var fits = 0
        while RDPAccountant.epsilon(sampleRate: 1, noiseMultiplier: 2, steps: fits + 1, delta: 1e-5) <= 4 { fits += 1 }
        XCTAssertTrue((1..<5).contains(fits), "the test's budget fits some but not all of 5 rounds (\(fits))")
        let run = try federate(dir, rounds: 5, extra: args)
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertEqual(run.records.count, fits, run.log)
        XCTAssertTrue(run.log.contains("privacy budget reached: round \(fits + 1) would take ε from"), run.log)
        XCTAssertTrue(run.log.contains("over the budget ε = 4.0 at δ = 1e-05; stopping after \(fits) of 5 rounds"), run.log)
        XCTAssertEqual(run.records.last?.epsilon ?? 0, RDPAccountant.epsilon(sampleRate: 1, noiseMultiplier: 2, steps: fits, delta: 1e-5), accuracy: 1e-9)
        // Resume: the accountant is rebuilt from the journal, so the budget still holds.
        let resumedLog = dir.appendingPathComponent("resume.log")
        let resumed = try launch(["coordinator", "--plan", dir.appendingPathComponent("plan.json").path, "--secrets",
                                  dir.appendingPathComponent("secrets.txt").path, "--listen", "127.0.0.1:\(try freePort())", "--rounds", "5",
                                  "--min-nodes", "3", "--wait", "5", "--out", dir.appendingPathComponent("out").path, "--insecure", "--resume"] + args,
                                 stderr: resumedLog)
        let status = wait(resumed, seconds: 60)
        let log = (try? String(contentsOf: resumedLog, encoding: .utf8)) ?? ""
        XCTAssertEqual(status, 0, log)
        XCTAssertTrue(log.contains("stopping after \(fits) of 5 rounds"), log)
        XCTAssertEqual(try Coordinator.loadRoundRecords(outDir: dir.appendingPathComponent("out").path).count, fits)
    }

    /// Inconsistent settings are refused before anything runs, naming the flag.
    func testPrivacyFlagsWithTopKOrWithoutNoiseAreRefused() throws {
        let dir = try setUp("flags")
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        for (plan, flags, expected) in [("topk.json", ["--dp-epsilon", "8"], "--dp-* cannot be combined with the plan's top-k codec"),
                                        ("plan.json", ["--dp-clip", "1"], "needs --dp-epsilon"),
                                        ("plan.json", ["--dp-epsilon", "8", "--dp-delta", "1"], "--dp-delta must be in (0, 1)")] {
            let logURL = dir.appendingPathComponent("refused.log")
            let c = try launch(["coordinator", "--model", p("init.ckpt"), "--plan", p(plan), "--secrets", p("secrets.txt"),
                                "--listen", "127.0.0.1:0", "--out", p("never"), "--insecure"] + flags, stderr: logURL)
            let status = wait(c, seconds: 30)
            let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            XCTAssertEqual(status, 2, log)
            XCTAssertTrue(log.contains(expected), log)
        }
    }
}
