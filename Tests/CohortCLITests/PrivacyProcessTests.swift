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

    /// The shared three sites, with this suite's plan and extra files.
    private func makeSites(in dir: URL) throws {
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"learningRate":0.05,"codec":{"quantization":{"int8":{"blockSize":64}},"zlibLevel":1}}"#)
        try #"{"codec":{"topKFraction":0.1,"quantization":{"none":{}}}}"#.write(to: dir.appendingPathComponent("topk.json"), atomically: true, encoding: .utf8)
    }

    struct Run {
        let status: Int32?
        let log: String
        let records: [Coordinator.RoundRecord]
    }

    /// Runs a coordinator with `extra` flags and three nodes (from `init.ckpt`, or resuming the
    /// journal in `out`); returns its status, log and journal.
    func federate(_ dir: URL, rounds: Int, extra: [String], out: String = "out", resume: Bool = false) throws -> Run {
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let port = try ProcessHarness.freePort()
        let logURL = dir.appendingPathComponent("\(out)\(resume ? "-resume" : "").log")
        let start = resume ? ["--resume"] : ["--model", p("init.ckpt")]
        let coordinator = try ProcessHarness.launch(["coordinator"] + start + ["--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                      "--listen", "127.0.0.1:\(port)", "--rounds", "\(rounds)", "--min-nodes", "3", "--round-timeout", "30",
                                      "--wait", "30", "--out", p(out), "--insecure"] + extra, stderr: logURL)
        let nodes = try (0..<3).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                        "--data", p("site\(s).csv"), "--insecure"] + (s == 2 ? ["--val-fraction", "0"] : []),   // no validation split: no NaN metric in JSON
                        stderr: dir.appendingPathComponent("\(out)-node\(s).log"))
        }
        let status = ProcessHarness.wait(coordinator, seconds: 90)
        for (s, n) in nodes.enumerated() {
            XCTAssertEqual(ProcessHarness.wait(n, seconds: 15), 0, (try? String(contentsOfFile: p("\(out)-node\(s).log"), encoding: .utf8)) ?? "")
        }
        let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return Run(status: status, log: log, records: (try? Coordinator.loadRoundRecords(outDir: p(out))) ?? [])
    }

    func setUp(_ tag: String) throws -> URL {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-dp-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try makeSites(in: dir)
        let initProc = try ProcessHarness.launch(["model", "init", "--arch", dir.appendingPathComponent("arch.json").path, "--out",
                                   dir.appendingPathComponent("init.ckpt").path, "--seed", "1"], stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0)
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
        let resumed = try ProcessHarness.launch(["coordinator", "--plan", dir.appendingPathComponent("plan.json").path, "--secrets",
                                  dir.appendingPathComponent("secrets.txt").path, "--listen", "127.0.0.1:\(try ProcessHarness.freePort())", "--rounds", "5",
                                  "--min-nodes", "3", "--wait", "5", "--out", dir.appendingPathComponent("out").path, "--insecure", "--resume"] + args,
                                 stderr: resumedLog)
        let status = ProcessHarness.wait(resumed, seconds: 60)
        let log = (try? String(contentsOf: resumedLog, encoding: .utf8)) ?? ""
        XCTAssertEqual(status, 0, log)
        XCTAssertTrue(log.contains("stopping after \(fits) of 5 rounds"), log)
        XCTAssertEqual(try Coordinator.loadRoundRecords(outDir: dir.appendingPathComponent("out").path).count, fits)
    }

    /// Record-level DP-SGD (`recordPrivacy` in the plan): every node trains with per-example
    /// clipping and noise and reports its own guarantee each round. The reported ε is the RDP
    /// accountant's for the node's q = batch / N, σ and the steps taken so far (one epoch of
    /// round(N / batch) steps per round), so it grows round by round. Nothing computed from the
    /// records without noise leaves a node: no training loss, no scores (kept at the site).
    /// Clipping took effect: with C = 10⁻⁵ every step's gradient is at most (N·C + σC(√d + 10))/(qN)
    /// (the noise's norm exceeds σC(√d + 10) with probability below e⁻⁵⁰), so after 2 rounds the
    /// global model has moved by at most Σ_rounds lr · steps · that / (1 − momentum) — about
    /// 10⁻³ here, where plain SGD moves it by more than 0.1.
    func testRecordLevelDPSGDNodesReportTheirOwnEpsilon() throws {
        let dir = try setUp("dpsgd")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (clip, sigma, lr, momentum) = (1e-5, 1.1, 0.05, 0.9)
        try #"{"batchSize":16,"learningRate":0.05,"momentum":0.9,"recordPrivacy":{"noiseMultiplier":1.1,"clipNorm":1e-5}}"#
            .write(to: dir.appendingPathComponent("plan.json"), atomically: true, encoding: .utf8)
        let run = try federate(dir, rounds: 2, extra: [])
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertEqual(run.records.count, 2, run.log)
        var previous: [String: Double] = [:]
        var bound = 0.0
        let dimension = 6.0 * 16 + 16 + 16 * 2 + 2
        for record in run.records {
            var roundBound = 0.0
            for (name, m) in record.nodeMetrics {
                guard let eps = m["record_epsilon"], let q = m["record_sample_rate"], let steps = m["record_steps"], let samples = m["samples"] else {
                    return XCTFail("\(name) reports no DP-SGD figures: \(m)")
                }
                XCTAssertEqual(q, min(1, 16 / samples), accuracy: 1e-12, name)
                XCTAssertEqual(steps, Double(record.round * max(1, Int((1 / q).rounded()))), name)
                XCTAssertEqual(m["record_noise_multiplier"], sigma)
                XCTAssertEqual(m["record_delta"], 1e-5)
                var accountant = RDPAccountant()
                accountant.step(noiseMultiplier: sigma, sampleRate: q, count: Int(steps))
                // Replace-one (N is announced): at least twice the add/remove ε at the same δ.
                XCTAssertEqual(eps, accountant.replaceOnePrivacySpent(delta: 1e-5).epsilon, accuracy: 1e-9, name)
                XCTAssertGreaterThanOrEqual(eps, 2 * accountant.epsilon(delta: 1e-5), name)
                if let before = previous[name] { XCTAssertGreaterThan(eps, before, "\(name): ε grows with every round") }
                previous[name] = eps
                XCTAssertTrue(Set(m.keys).isSubset(of: ["record_epsilon", "record_delta", "record_noise_multiplier", "record_sample_rate", "record_steps",
                                                        "samples", "update_bytes"]), "\(name) sends nothing computed from its records: \(m.keys.sorted())")
                XCTAssertNil(m["train_loss"], name)
                let stepsThisRound = Double(max(1, Int((1 / q).rounded())))
                let gradient = (samples * clip + sigma * clip * (dimension.squareRoot() + 10)) / (q * samples)
                roundBound = max(roundBound, lr * stepsThisRound * gradient / (1 - momentum))
            }
            bound += roundBound
        }
        XCTAssertEqual(previous.count, 3)
        let initial = try CheckpointFile.load(dir.appendingPathComponent("init.ckpt").path)
        let final = try CheckpointFile.load(dir.appendingPathComponent("out/global.ckpt").path)
        var squared = 0.0
        for ((_, a), (_, b)) in zip(initial.tensors, final.tensors) { for (x, y) in zip(a.data, b.data) { squared += Double(y - x) * Double(y - x) } }
        XCTAssertGreaterThan(squared, 0, "the model trained")
        XCTAssertLessThanOrEqual(squared.squareRoot(), bound, "the clipped, noised steps bound the model's movement")
        XCTAssertLessThan(bound, 0.01, "the bound is tight enough that plain SGD would break it")
    }

    /// Inconsistent settings are refused before anything runs, naming the flag.
    func testPrivacyFlagsWithTopKOrWithoutNoiseAreRefused() throws {
        let dir = try setUp("flags")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (plan, flags, expected) in [("topk.json", ["--dp-epsilon", "8"], "--dp-* cannot be combined with the plan's top-k codec"),
                                        ("plan.json", ["--dp-clip", "1"], "needs --dp-epsilon"),
                                        ("plan.json", ["--dp-epsilon", "8", "--dp-delta", "1"], "--dp-delta must be in (0, 1)")] {
            let (status, log) = try ProcessHarness.refusedCoordinator(in: dir, plan: plan, flags: flags)
            XCTAssertEqual(status, 2, log)
            XCTAssertTrue(log.contains(expected), log)
        }
    }
}
