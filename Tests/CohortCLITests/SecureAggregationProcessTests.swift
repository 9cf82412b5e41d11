import XCTest
import CohortCLI
import CohortCheckpoint
import CohortFederation
import Foundation

/// Secure aggregation across real processes: a `cohort coordinator --secure-aggregation` and
/// `cohort node` processes on loopback. Nodes drop out with the test-only `--test-drop-after`
/// flag (they close the connection right after sending a step's message, then reconnect), and
/// both sides write their fixed-point vectors with `--test-dump-secagg`, so the test can compare
/// the unmasked sum with the nodes' own inputs word for word.
final class SecureAggregationProcessTests: XCTestCase {
    private var binary: URL { CohortBinary.url }

    /// Five sites: the shared three (200/120/60 rows) and two more (90, 150 rows).
    private func setUp(_ tag: String, arch: String? = nil) throws -> URL {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-secagg-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"learningRate":0.05}"#)
        var secrets = try String(contentsOf: dir.appendingPathComponent("secrets.txt"), encoding: .utf8)
        for (s, rows) in [(3, 90), (4, 150)] {
            let header = (0..<6).map { "x\($0)" }.joined(separator: ",") + ",target\n"
            let csv = header + (0..<rows).map { i in
                (0..<6).map { j in String(format: "%.3f", Double((i * 13 + j * 7 + s) % 40) / 20 - 1 + (i % 2 == 0 ? 0.6 : -0.6)) }.joined(separator: ",") + ",\(i % 2)\n"
            }.joined()
            try csv.write(to: dir.appendingPathComponent("site\(s).csv"), atomically: true, encoding: .utf8)
            let key = String(format: "%032llx", 0x5eca_66e0_0000_0000 &+ UInt64(s))
            secrets += "site\(s) \(key)\n"
            try (key + "\n").write(to: dir.appendingPathComponent("site\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(to: dir.appendingPathComponent("secrets.txt"), atomically: true, encoding: .utf8)
        if let arch { try arch.write(to: dir.appendingPathComponent("arch.json"), atomically: true, encoding: .utf8) }
        let initProc = try ProcessHarness.launch(["model", "init", "--arch", dir.appendingPathComponent("arch.json").path, "--out",
                                                  dir.appendingPathComponent("init.ckpt").path, "--seed", "1"], stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0)
        return dir
    }

    private struct Run {
        let status: Int32?
        let log: String
        let nodeLogs: [String]
        let records: [Coordinator.RoundRecord]
    }

    /// A coordinator (`extra` flags) and `nodes` nodes (site0…), node s with `nodeFlags[s]`
    /// (without a validation split unless the flags give one); every process dumps its vectors
    /// to `dir/dump`.
    private func federate(_ dir: URL, nodes: Int = 5, rounds: Int, extra: [String], nodeFlags: [Int: [String]] = [:]) throws -> Run {
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "\(rounds)", "--min-nodes", "\(nodes)",
                                                     "--round-timeout", "30", "--wait", "30", "--out", p("out"), "--insecure",
                                                     "--secure-aggregation", "--test-dump-secagg", p("dump")] + extra,
                                                    stderr: dir.appendingPathComponent("coordinator.log"))
        let processes = try (0..<nodes).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s).csv"), "--insecure", "--test-dump-secagg", p("dump")]
                                      + ((nodeFlags[s] ?? []).contains("--val-fraction") ? [] : ["--val-fraction", "0"]) + (nodeFlags[s] ?? []),
                                      stderr: dir.appendingPathComponent("node\(s).log"))
        }
        let status = ProcessHarness.wait(coordinator, seconds: 90)
        for (s, n) in processes.enumerated() {
            // A dropped node may still be reconnecting to the finished run: it is stopped.
            let dropper = nodeFlags[s]?.contains("--test-drop-after") ?? false
            let code = ProcessHarness.wait(n, seconds: dropper ? 0.5 : 15)
            if !dropper { XCTAssertEqual(code, 0, "node \(s): " + ((try? String(contentsOfFile: p("node\(s).log"), encoding: .utf8)) ?? "")) }
        }
        return Run(status: status, log: (try? String(contentsOfFile: p("coordinator.log"), encoding: .utf8)) ?? "",
                   nodeLogs: (0..<nodes).map { (try? String(contentsOfFile: p("node\($0).log"), encoding: .utf8)) ?? "" },
                   records: (try? Coordinator.loadRoundRecords(outDir: p("out"))) ?? [])
    }

    private func words(_ dir: URL, _ name: String) -> [UInt32]? {
        guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent("dump/\(name)").path) else { return nil }
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
    }

    /// The node ids (1 + position in the sorted secrets) whose masked input the coordinator
    /// received in `session`.
    private func maskedIDs(_ dir: URL, session: UInt64) -> [UInt32] {
        (1...5).map(UInt32.init).filter { words(dir, "masked-s\(session)-n\($0).u32") != nil }
    }

    /// Nodes drop after sharing their keys (so the others masked with them; their pairwise masks
    /// must be rebuilt from the survivors' shares) or after sending their masked input (their
    /// input counts, but they send no unmasking shares). Either way the coordinator's unmasked
    /// sum equals the plain sum of the survivors' fixed-point inputs, word for word, and the
    /// new global model is the initial one plus that sum decoded and divided by the survivors'
    /// share of the samples.
    func testOneAndTwoDropoutsAfterMaskingLeaveTheExactSumOfTheSurvivors() throws {
        let rows = [200, 120, 60, 90, 150]
        for (label, flags, dropped) in [("one", [1: ["--test-drop-after", "shares"], 4: ["--test-drop-after", "masked-input"]], [1]),
                                        ("two", [1: ["--test-drop-after", "shares"], 3: ["--test-drop-after", "shares"]], [1, 3])] {
            let dir = try setUp(label)
            defer { try? FileManager.default.removeItem(at: dir) }
            let run = try federate(dir, rounds: 1, extra: ["--quorum", "3", "--secagg-threshold", "3"], nodeFlags: flags)
            XCTAssertEqual(run.status, 0, run.log)
            XCTAssertEqual(run.records.count, 1, run.log)
            let session: UInt64 = 1 << 8
            let survivors = maskedIDs(dir, session: session)
            let expected = (0..<5).filter { !dropped.contains($0) }
            XCTAssertEqual(survivors, expected.map { UInt32($0 + 1) }, "\(label): \(run.log)")
            XCTAssertEqual(run.records.first?.accepted, expected.map { "site\($0)" }, run.log)
            XCTAssertEqual(run.records.first?.secureAggregationThreshold, 3)
            for d in dropped { XCTAssertNotNil(run.records.first?.rejected["site\(d)"], "the dropped node's reason is journaled") }
            if flags[4] != nil {
                XCTAssertTrue(run.log.contains("'site4' left the secure round at step 'unmasking'"), run.log)
                XCTAssertTrue(run.log.contains("5 participants") && run.log.contains("4/5 inputs summed (3 unmasked)"), run.log)
            } else {
                XCTAssertTrue(run.log.contains("3/5 inputs summed (3 unmasked)"), run.log)
            }
            // The sum, word for word.
            guard let sum = words(dir, "sum-s\(session).u32") else { return XCTFail("no sum dumped: \(run.log)") }
            var plain = [UInt32](repeating: 0, count: sum.count)
            for id in survivors {
                guard let input = words(dir, "input-s\(session)-n\(id).u32") else { return XCTFail("node \(id) dumped no input") }
                XCTAssertEqual(input.count, sum.count)
                for i in plain.indices { plain[i] &+= input[i] }
                XCTAssertNotEqual(words(dir, "masked-s\(session)-n\(id).u32"), input, "node \(id)'s vector was masked")
            }
            XCTAssertEqual(sum, plain, "\(label): the unmasked sum is the survivors' plain fixed-point sum")
            XCTAssertGreaterThan(sum.filter { $0 != 0 }.count, sum.count / 2, "the sum is not trivially zero")
            // The applied update: sum decoded, divided by the survivors' share of the samples.
            let initial = try CheckpointFile.load(dir.appendingPathComponent("init.ckpt").path)
            let final = try CheckpointFile.load(dir.appendingPathComponent("out/global.ckpt").path)
            var plan = TrainingPlan()
            plan.secureAggregation = SecureAggregationPlan(threshold: 3)
            let encoding = try SecureUpdateEncoding(plan: plan, architecture: initial.architecture!, participants: 5, threshold: 3)
            var noNoise = GaussianNoise.seeded(0)
            let share = Double(expected.map { rows[$0] }.reduce(0, +)) / Double(rows.reduce(0, +))
            let mean = try encoding.mean(sum: sum, divisor: share, centralNoise: 0, noise: &noNoise)
            for ((name, before), (_, after)) in zip(initial.tensors, final.tensors) {
                guard let m = mean[name] else { continue }
                for i in before.data.indices {
                    XCTAssertEqual(after.data[i] - before.data[i], m.data[i], accuracy: 1e-6 + 1e-5 * abs(m.data[i]), "\(name)[\(i)]")
                }
            }
            // The journal holds no single node's update, nor its scores: only its sample count.
            for (_, metrics) in run.records.first?.nodeMetrics ?? [:] {
                XCTAssertEqual(Set(metrics.keys), ["samples"], "\(metrics.keys.sorted())")
            }
        }
    }

    /// Three of five nodes drop after sharing keys with threshold 3: two masked inputs remain,
    /// the attempt is abandoned before any unmasking share is asked for (no node reveals any
    /// in that session, no sum exists), the dropped nodes reconnect, and the retried round and
    /// the next one complete with the exact sums.
    func testFewerThanThresholdSurvivorsAbandonTheAttemptAndTheNextProceeds() throws {
        let dir = try setUp("below")
        defer { try? FileManager.default.removeItem(at: dir) }
        let drop = ["--test-drop-after", "shares"]
        let run = try federate(dir, rounds: 2, extra: ["--quorum", "2", "--secagg-threshold", "3"], nodeFlags: [0: drop, 2: drop, 3: drop])
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertTrue(run.log.contains("round 1 (secure aggregation session 256): abandoned: secure aggregation: 2 nodes at masked input, fewer than the threshold 3"), run.log)
        XCTAssertTrue(run.log.contains("nothing was unmasked and the round is not applied"), run.log)
        XCTAssertTrue(run.log.contains("round 1 not completed; retrying"), run.log)
        XCTAssertNil(words(dir, "sum-s256.u32"), "no sum of the abandoned attempt")
        for log in run.nodeLogs {
            XCTAssertFalse(log.components(separatedBy: "\n").contains { $0.contains("session 256") && $0.contains("revealed self-mask shares") },
                           "no node revealed shares in the abandoned attempt: \(log)")
            XCTAssertTrue(log.contains("revealed self-mask shares"), "every node revealed shares in a later attempt: \(log)")
        }
        for s in [1, 4] { XCTAssertTrue(run.nodeLogs[s].contains("session 256") && run.nodeLogs[s].contains("abandoned the attempt"), run.nodeLogs[s]) }
        XCTAssertEqual(run.records.map(\.round), [1, 2], run.log)
        for (record, session) in zip(run.records, [UInt64(257), 2 << 8]) {
            let survivors = maskedIDs(dir, session: session)
            XCTAssertEqual(record.accepted.count, survivors.count)
            XCTAssertGreaterThanOrEqual(survivors.count, 3)
            guard let sum = words(dir, "sum-s\(session).u32") else { return XCTFail("no sum for session \(session): \(run.log)") }
            var plain = [UInt32](repeating: 0, count: sum.count)
            for id in survivors { for (i, w) in (words(dir, "input-s\(session)-n\(id).u32") ?? []).enumerated() { plain[i] &+= w } }
            XCTAssertEqual(sum, plain, "session \(session)")
        }
    }

    /// What the coordinator receives from one node is independent of that node's update: over
    /// 10 rounds × 3 nodes × 578 coordinates (N = 17 340 pairs) the Pearson correlation between
    /// a node's fixed-point input (as a signed integer) and the masked word the coordinator got
    /// is within 5/√N ≈ 0.038 of 0, and the masked words are uniform on [0, 2³²) (mean within
    /// 5 standard errors of 2³¹), while the inputs themselves are far from uniform.
    func testAMaskedUpdateReceivedByTheCoordinatorIsUncorrelatedWithTheUpdate() throws {
        let arch = #"{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":64},{"kind":"relu","name":"features.1"},{"kind":"dense","name":"head","units":2}]}"#
        let dir = try setUp("independence", arch: arch)
        defer { try? FileManager.default.removeItem(at: dir) }
        let rounds = 10
        let run = try federate(dir, nodes: 3, rounds: rounds, extra: ["--secagg-threshold", "2"])
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertEqual(run.records.count, rounds)
        var xs: [Double] = [], ys: [Double] = []
        for r in 1...rounds {
            for id in 1...3 {
                let session = UInt64(r) << 8
                guard let x = words(dir, "input-s\(session)-n\(id).u32"), let y = words(dir, "masked-s\(session)-n\(id).u32") else {
                    return XCTFail("round \(r) node \(id): vectors not dumped")
                }
                XCTAssertEqual(x.count, 578)
                xs += x.map { Double(Int32(bitPattern: $0)) }
                ys += y.map(Double.init)
            }
        }
        let n = Double(xs.count)
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
        let mx = mean(xs), my = mean(ys)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in xs.indices { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) * (xs[i] - mx); syy += (ys[i] - my) * (ys[i] - my) }
        XCTAssertGreaterThan(sxx, 0, "the inputs vary")
        let r = sxy / (sxx * syy).squareRoot()
        XCTAssertLessThan(abs(r), 5 / n.squareRoot(), "correlation of input and masked word: \(r) over \(Int(n)) pairs")
        let uniformMean = my / 4_294_967_296, bound = 5 * (1.0 / 12 / n).squareRoot()
        XCTAssertEqual(uniformMean, 0.5, accuracy: bound, "masked words are uniform")
        // The inputs are small updates: as unsigned words they cluster at 0 and 2³² (not uniform).
        let inputSpread = xs.map { abs($0) / 2_147_483_648 }.max() ?? 1
        XCTAssertLessThan(inputSpread, 0.5, "the inputs use a small part of the range, so uniform masked words are the masks' doing")
    }

    /// Distributed DP across processes: every node adds its noise share before masking, so the
    /// input a node masks, decoded, is far longer than the clip norm (σC/√t per coordinate over
    /// 146 coordinates: about 5 here, against C = 1), while the coordinator adds none: the model
    /// moves by exactly the unmasked sums decoded and divided by the 5 sampled. In round 1 one
    /// node drops after sending its keys, so with a quorum of 5 the first attempt is abandoned
    /// before the release point and retried: it is not accounted, and after the 2 rounds the
    /// journal holds ε of exactly 2 accountant steps.
    func testDistributedDPNodesNoiseTheirInputsAndTheRunIsAccounted() throws {
        let dir = try setUp("distributed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try federate(dir, rounds: 2, extra: ["--dp-epsilon", "8", "--dp-clip", "1", "--dp-mode", "distributed", "--secagg-threshold", "3", "--quorum", "5"],
                               nodeFlags: [2: ["--test-drop-after", "keys"]])
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertEqual(run.records.count, 2, run.log)
        XCTAssertTrue(run.log.contains("round 1 (secure aggregation session 256): abandoned: 4 masked input(s), fewer than the quorum 5"), run.log)
        let sigma = try RDPAccountant.noiseMultiplier(forEpsilon: 8, delta: 1e-5, sampleRate: 1, steps: 2)
        for (i, record) in run.records.enumerated() {
            XCTAssertNil(record.unapplied)
            XCTAssertEqual(record.epsilon ?? 0, RDPAccountant.epsilon(sampleRate: 1, noiseMultiplier: sigma, steps: i + 1, delta: 1e-5), accuracy: 1e-9,
                           "round \(record.round): one accountant step per released round, none for the abandoned attempt")
        }
        XCTAssertTrue(run.log.contains("distributed DP: clip C = 1.0"), run.log)
        let initial = try CheckpointFile.load(dir.appendingPathComponent("init.ckpt").path)
        var plan = TrainingPlan()
        plan.secureAggregation = SecureAggregationPlan(threshold: 3)
        plan.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: sigma, mode: .distributed)
        let encoding = try SecureUpdateEncoding(plan: plan, architecture: initial.architecture!, participants: 5, threshold: 3)
        let expectedNoiseNorm = encoding.nodeNoiseStandardDeviation * Double(encoding.length).squareRoot()
        let sessions: [UInt64] = [257, 2 << 8]
        for id in 1...5 {
            guard let input = words(dir, "input-s\(sessions[0])-n\(id).u32") else { return XCTFail("node \(id) dumped no input") }
            let norm = encoding.fixedPoint.decode(sum: input).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertGreaterThan(norm, 0.6 * expectedNoiseNorm, "node \(id)'s input carries its noise share (norm \(norm))")
            XCTAssertLessThan(norm, 1 + 1.4 * expectedNoiseNorm, "and not much more (norm \(norm))")
        }
        XCTAssertNil(words(dir, "sum-s256.u32"), "the abandoned attempt unmasked nothing")
        // The applied update is the sums decoded and divided by n = 5: no noise from the coordinator.
        let final = try CheckpointFile.load(dir.appendingPathComponent("out/global.ckpt").path)
        var noNoise = GaussianNoise.seeded(0)
        var applied: [String: [Float]] = [:]
        for session in sessions {
            guard let sum = words(dir, "sum-s\(session).u32") else { return XCTFail("no sum for session \(session): \(run.log)") }
            for (name, m) in try encoding.mean(sum: sum, divisor: 5, centralNoise: 0, noise: &noNoise) {
                applied[name] = zip(applied[name] ?? [Float](repeating: 0, count: m.count), m.data).map { $0 + $1 }
            }
        }
        var compared = 0
        for ((name, before), (_, after)) in zip(initial.tensors, final.tensors) {
            guard let m = applied[name] else { continue }
            for i in before.data.indices {
                XCTAssertEqual(after.data[i] - before.data[i], m[i], accuracy: 1e-6 + 1e-5 * abs(m[i]), "\(name)[\(i)]")
                compared += 1
            }
        }
        XCTAssertEqual(compared, encoding.length)
    }

    /// The release point (protocols/privacy.md): node site1 reveals corrupted self-mask shares
    /// in round 1 (`--test-corrupt-unmasking`), so the coordinator cannot rebuild the sum after
    /// the survivors were announced. The round is journaled unapplied and accounted (ε of one
    /// step), is not retried, no ABORT reaches the nodes that already answered, every node keeps
    /// running, and round 2 completes on the unchanged model (ε of two steps): the final model is
    /// the initial one plus round 2's sum decoded and divided by 5.
    func testBadUnmaskingSharesAfterTheReleaseEndTheRoundUnappliedAccountedAndTheRunGoesOn() throws {
        let dir = try setUp("release")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try federate(dir, rounds: 2, extra: ["--dp-noise", "2", "--dp-clip", "1", "--dp-mode", "distributed", "--secagg-threshold", "3"],
                               nodeFlags: [1: ["--test-corrupt-unmasking", "1"]])
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertEqual(run.records.map(\.round), [1, 2], run.log)
        let first = try XCTUnwrap(run.records.first), second = try XCTUnwrap(run.records.last)
        XCTAssertTrue(first.unapplied?.contains("failed after the survivors were announced") ?? false, "\(first.unapplied ?? "nil")")
        XCTAssertTrue(first.unapplied?.contains("shares for node") ?? false, "\(first.unapplied ?? "nil")")
        XCTAssertEqual(first.accepted.count, 5, "the released sum would have held all five inputs")
        XCTAssertEqual(first.epsilon ?? 0, RDPAccountant.epsilon(sampleRate: 1, noiseMultiplier: 2, steps: 1, delta: 1e-5), accuracy: 1e-9)
        XCTAssertNil(second.unapplied)
        XCTAssertEqual(second.epsilon ?? 0, RDPAccountant.epsilon(sampleRate: 1, noiseMultiplier: 2, steps: 2, delta: 1e-5), accuracy: 1e-9)
        XCTAssertFalse(run.log.contains("retrying"), "a released round is never run again: \(run.log)")
        XCTAssertFalse(run.log.contains("session 257"), run.log)
        XCTAssertTrue(run.log.contains("the run goes on with the next round on the unchanged model"), run.log)
        XCTAssertNil(words(dir, "sum-s256.u32"), "no sum was rebuilt")
        for (s, log) in run.nodeLogs.enumerated() {
            XCTAssertFalse(log.contains("unexpected message type"), "node \(s): \(log)")
            XCTAssertFalse(log.contains("abandoned the attempt") || log.contains("ignoring a secure-aggregation message"),
                           "node \(s) got no ABORT or stale step after answering: \(log)")
            XCTAssertTrue(log.contains("round 2 (secure aggregation session 512") && log.contains("coordinator finished after 2 rounds"), "node \(s): \(log)")
        }
        XCTAssertTrue(run.nodeLogs[1].contains("testing: corrupted the self-mask shares"), run.nodeLogs[1])
        let initial = try CheckpointFile.load(dir.appendingPathComponent("init.ckpt").path)
        let final = try CheckpointFile.load(dir.appendingPathComponent("out/global.ckpt").path)
        var plan = TrainingPlan()
        plan.secureAggregation = SecureAggregationPlan(threshold: 3)
        plan.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: 2, mode: .distributed)
        let encoding = try SecureUpdateEncoding(plan: plan, architecture: initial.architecture!, participants: 5, threshold: 3)
        guard let sum = words(dir, "sum-s512.u32") else { return XCTFail("no sum for round 2: \(run.log)") }
        var noNoise = GaussianNoise.seeded(0)
        let mean = try encoding.mean(sum: sum, divisor: 5, centralNoise: 0, noise: &noNoise)
        for ((name, before), (_, after)) in zip(initial.tensors, final.tensors) {
            guard let m = mean[name] else { continue }
            for i in before.data.indices { XCTAssertEqual(after.data[i] - before.data[i], m.data[i], accuracy: 1e-6 + 1e-5 * abs(m.data[i]), "\(name)[\(i)]") }
        }
    }

    /// Under secure aggregation a node's scores stay at the site: the coordinator's journal and
    /// `evaluation.json` hold only the sample count each node announced (public, from HELLO),
    /// while the nodes log their scores locally. A node started with `--share-metrics` sends
    /// them as before.
    func testUnderSecureAggregationNodesKeepTheirScoresUnlessTheyShareThem() throws {
        let dir = try setUp("scores")
        defer { try? FileManager.default.removeItem(at: dir) }
        let validation = ["--val-fraction", "0.2"]
        let run = try federate(dir, nodes: 3, rounds: 1, extra: ["--secagg-threshold", "2"],
                               nodeFlags: [0: validation, 1: validation, 2: validation + ["--share-metrics"]])
        XCTAssertEqual(run.status, 0, run.log)
        let metrics = try XCTUnwrap(run.records.first?.nodeMetrics)
        for s in ["site0", "site1"] { XCTAssertEqual(metrics[s], ["samples": metrics[s]?["samples"] ?? -1], "\(s) sent nothing but its sample count") }
        XCTAssertNotNil(metrics["site2"]?["global_val_accuracy"], "site2 shares its scores: \(metrics)")
        let evaluation = try EvaluationRecord.load(outDir: dir.appendingPathComponent("out").path)
        XCTAssertEqual(evaluation.nodes["site0"], [:], "\(evaluation.nodes)")
        XCTAssertEqual(evaluation.nodes["site1"], [:])
        XCTAssertNotNil(evaluation.nodes["site2"]?["val_accuracy"], "\(evaluation.nodes)")
        XCTAssertTrue(run.nodeLogs[0].contains("evaluated the final model") && run.nodeLogs[0].contains("kept here: secure aggregation"), run.nodeLogs[0])
    }

    /// A node that requires secure aggregation refuses a plain plan: it tells the coordinator
    /// and stops with an error naming the flag.
    func testANodeRequiringSecureAggregationRefusesAPlainPlan() throws {
        let dir = try setUp("require")
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "1", "--min-nodes", "1", "--round-timeout", "10",
                                                     "--wait", "3", "--out", p("out"), "--insecure"], stderr: dir.appendingPathComponent("coordinator.log"))
        let node = try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site0", "--secret-file", p("site0.key"),
                                              "--data", p("site0.csv"), "--insecure", "--require-secure-aggregation"], stderr: dir.appendingPathComponent("node.log"))
        let nodeStatus = ProcessHarness.wait(node, seconds: 30)
        _ = ProcessHarness.wait(coordinator, seconds: 30)
        let nodeLog = (try? String(contentsOfFile: p("node.log"), encoding: .utf8)) ?? ""
        let log = (try? String(contentsOfFile: p("coordinator.log"), encoding: .utf8)) ?? ""
        XCTAssertNotEqual(nodeStatus, 0, nodeLog)
        XCTAssertTrue(nodeLog.contains("refused the plan of round 1") && nodeLog.contains("--require-secure-aggregation"), nodeLog)
        XCTAssertTrue(log.contains("node 'site0' refuses the plan"), log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p("out/rounds.jsonl")), "no round was aggregated")
    }

    /// Testing flags weaken the run: without --insecure they are refused (exit status 2, naming
    /// the flag); with it the run warns loudly.
    func testTestingFlagsNeedInsecureAndWarn() throws {
        let dir = try setUp("testflags")
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        for (args, flag) in [(["node", "--coordinator", "127.0.0.1:9", "--name", "site0", "--secret-file", p("site0.key"), "--data", p("site0.csv"),
                               "--tls-ca", p("none.pem"), "--test-dump-secagg", p("dump")], "--test-dump-secagg"),
                             (["node", "--coordinator", "127.0.0.1:9", "--name", "site0", "--secret-file", p("site0.key"), "--data", p("site0.csv"),
                               "--tls-ca", p("none.pem"), "--test-drop-after", "keys"], "--test-drop-after"),
                             (["node", "--coordinator", "127.0.0.1:9", "--name", "site0", "--secret-file", p("site0.key"), "--data", p("site0.csv"),
                               "--tls-ca", p("none.pem"), "--test-corrupt-unmasking", "1"], "--test-corrupt-unmasking"),
                             (["coordinator", "--model", p("init.ckpt"), "--secrets", p("secrets.txt"), "--out", p("out"), "--tls-cert", p("none.pem"),
                               "--tls-key", p("none.pem"), "--secure-aggregation", "--test-dump-secagg", p("dump")], "--test-dump-secagg")] {
            let proc = try ProcessHarness.launch(args, stderr: dir.appendingPathComponent("flag.log"))
            XCTAssertEqual(ProcessHarness.wait(proc, seconds: 30), 2)
            let log = (try? String(contentsOfFile: p("flag.log"), encoding: .utf8)) ?? ""
            XCTAssertTrue(log.contains("\(flag) is for testing only and needs --insecure"), "\(args[0]) \(flag): \(log)")
        }
        // The runs above pass --insecure: their logs carry the warning.
        let run = try federate(dir, nodes: 3, rounds: 1, extra: ["--secagg-threshold", "2", "--no-final-evaluation"])
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertTrue(run.log.contains("WARNING: --test-dump-secagg is a TESTING flag"), run.log)
        XCTAssertTrue(run.nodeLogs[0].contains("WARNING: --test-dump-secagg is a TESTING flag"), run.nodeLogs[0])
    }

    /// Inconsistent settings are refused before anything runs, naming the flag.
    func testSecureAggregationFlagErrorsNameTheFlag() throws {
        let dir = try setUp("flags")
        defer { try? FileManager.default.removeItem(at: dir) }
        try #"{"codec":{"topKFraction":0.1,"quantization":{"none":{}}}}"#.write(to: dir.appendingPathComponent("topk.json"), atomically: true, encoding: .utf8)
        try #"{"strategy":"median"}"#.write(to: dir.appendingPathComponent("median.json"), atomically: true, encoding: .utf8)
        for (plan, flags, expected) in [
            ("plan.json", ["--dp-epsilon", "8", "--dp-mode", "distributed"], "--dp-mode distributed needs --secure-aggregation"),
            ("plan.json", ["--secagg-threshold", "3"], "--secagg-threshold and --secagg-clip need --secure-aggregation"),
            ("topk.json", ["--secure-aggregation"], "secureAggregation cannot be combined with codec.topKFraction"),
            ("median.json", ["--secure-aggregation"], "secureAggregation needs strategy fedavg, fedprox or fedbn"),
            ("plan.json", ["--secure-aggregation", "--dp-noise", "1", "--dp-mode", "sideways"], "--dp-mode must be central or distributed"),
        ] {
            let (status, log) = try ProcessHarness.refusedCoordinator(in: dir, plan: plan, flags: flags)
            XCTAssertEqual(status, 2, log)
            XCTAssertTrue(log.contains(expected), "\(flags): \(log)")
        }
    }
}
