import XCTest
import CohortCheckpoint
import CohortFederation
import Foundation

/// Poisson sampling and adaptive clipping across real processes: a `cohort coordinator` and
/// three `cohort node` processes on loopback (the harness of `PrivacyProcessTests`).
extension PrivacyProcessTests {
    /// `--dp-sample-rate 0.5` with a test noise seed: each round's participants are exactly the
    /// Poisson sample drawn from (seed, round) over the secrets file's three nodes, their number
    /// varies (including a round that samples nobody and still releases a noise-only step), the
    /// mean's denominator is q·N = 1.5, σ is chosen for the budget at q = 0.5, and every round's
    /// ε is the accountant's at q = 0.5 for that many steps — below what q = 1 would give.
    func testPoissonSampledRunsAccountWithQAndVaryTheParticipants() throws {
        let dir = try setUp("poisson")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (q, rounds) = (0.5, 6)
        let population = ["site0", "site1", "site2"]
        func samples(_ seed: UInt64) -> [[String]] {
            (1...rounds).map { PoissonSampling.sample(population, rate: q, random: CryptoRandom(seed: seed, label: "poisson-sample", index: $0)) }
        }
        // The first seed whose samples have three sizes, one of them empty (a noise-only round).
        let seed = try XCTUnwrap((UInt64(1)...500).first { s in let e = samples(s); return Set(e.map(\.count)).count >= 3 && e.contains { $0.isEmpty } })
        let expected = samples(seed)
        let run = try federate(dir, rounds: rounds, extra: ["--dp-epsilon", "8", "--dp-delta", "1e-5", "--dp-clip", "1", "--dp-sample-rate", "\(q)",
                                                            "--test-noise-seed", "\(seed)"])
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertEqual(run.records.count, rounds, run.log)
        let sigma = try RDPAccountant.noiseMultiplier(forEpsilon: 8, delta: 1e-5, sampleRate: q, steps: rounds)
        XCTAssertLessThan(sigma, try RDPAccountant.noiseMultiplier(forEpsilon: 8, delta: 1e-5, sampleRate: 1, steps: rounds), "sampling buys less noise")
        for (i, r) in run.records.enumerated() {
            XCTAssertEqual(r.participants.sorted(), expected[i], "round \(r.round)")
            XCTAssertEqual(r.accepted, expected[i], "round \(r.round): every sampled node delivered")
            XCTAssertEqual(r.sampleRate, q)
            XCTAssertEqual(r.denominator, q * 3)
            XCTAssertEqual(r.noiseMultiplier, sigma)
            XCTAssertEqual(r.epsilon ?? 0, RDPAccountant.epsilon(sampleRate: q, noiseMultiplier: sigma, steps: r.round, delta: 1e-5), accuracy: 1e-9)
            XCTAssertLessThan(r.epsilon ?? .infinity, RDPAccountant.epsilon(sampleRate: 1, noiseMultiplier: sigma, steps: r.round, delta: 1e-5))
        }
        XCTAssertLessThanOrEqual(run.records.last?.epsilon ?? .infinity, 8)
        XCTAssertTrue(run.records.allSatisfy { $0.testNoiseSeeded == true }, "every test-seeded round is marked in the journal")
        XCTAssertTrue(run.log.contains("q = 0.5 (Poisson sampling of 3 nodes)"), run.log)
        let empty = (expected.firstIndex { $0.isEmpty } ?? -1) + 1
        XCTAssertTrue(run.log.contains("round \(empty) done: 0/0 updates"), run.log)
        // Without a seed the sample comes from the CSPRNG: not tested for values, only accepted.
        let (status, log) = try ProcessHarness.refusedCoordinator(in: dir, plan: "plan.json", flags: ["--dp-epsilon", "8", "--dp-sample-rate", "0.5", "--fraction", "0.5"])
        XCTAssertEqual(status, 2, log)
        XCTAssertTrue(log.contains("--fraction cannot be combined with Poisson sampling"), log)
    }

    /// Issue 18, point 5: `--test-noise-seed` (whose noise anyone with the seed can subtract)
    /// is refused on a listen address outside 127.0.0.0/8 and ::1 and with TLS, before any
    /// file is read; on loopback it runs, and every round record says it was test-seeded while
    /// a run without the seed carries no such mark.
    func testTestNoiseSeedOnlyOnLoopbackWithoutTLSAndMarksTheJournal() throws {
        let dir = try setUp("seedrefusal")
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func refused(_ listen: String, _ extra: [String]) throws -> (Int32?, String) {
            let logURL = dir.appendingPathComponent("refused-seed.log")
            let c = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                               "--listen", listen, "--out", p("never"), "--insecure", "--dp-noise", "1", "--test-noise-seed", "3"] + extra,
                                              stderr: logURL)
            let status = ProcessHarness.wait(c, seconds: 30)
            return (status, (try? String(contentsOf: logURL, encoding: .utf8)) ?? "")
        }
        for host in ["0.0.0.0:0", "10.1.2.3:0", "[::]:0", "localhost:0", "128.0.0.1:0"] {
            let (status, log) = try refused(host, [])
            XCTAssertEqual(status, 2, "\(host): \(log)")
            XCTAssertTrue(log.contains("--test-noise-seed needs a loopback --listen address (127.0.0.0/8 or ::1)"), "\(host): \(log)")
        }
        let (status, log) = try refused("127.0.0.1:0", ["--tls-cert", p("none.pem"), "--tls-key", p("none.key")])
        XCTAssertEqual(status, 2, log)
        XCTAssertTrue(log.contains("--test-noise-seed cannot be combined with TLS"), log)
        let seeded = try federate(dir, rounds: 2, extra: ["--dp-noise", "1", "--dp-clip", "1", "--test-noise-seed", "3"], out: "seeded")
        XCTAssertEqual(seeded.status, 0, seeded.log)
        XCTAssertEqual(seeded.records.count, 2, seeded.log)
        XCTAssertTrue(seeded.records.allSatisfy { $0.testNoiseSeeded == true }, seeded.log)
        let plain = try federate(dir, rounds: 1, extra: ["--dp-noise", "1", "--dp-clip", "1"], out: "plain")
        XCTAssertEqual(plain.status, 0, plain.log)
        XCTAssertEqual(plain.records.count, 1, plain.log)
        XCTAssertTrue(plain.records.allSatisfy { $0.testNoiseSeeded == nil }, plain.log)
    }

    /// Adaptive clipping with Poisson sampling (q = 0.7, σ_b = 1, z = 1, C from 0.05, η = 0.5):
    /// the round's C travels in the plan (each node's `clipped` bit is its norm against that C),
    /// C moves every round by exp(−η(b̄ − γ)) and the next round starts from it; z_Δ = 1/√(1 − ¼).
    /// Stopped after round 2 and resumed (`--resume`) to 4 rounds, the run ends with the same
    /// weights (bit for bit), the same C in every round and the same ε as an uninterrupted run.
    func testAdaptiveClippingMovesCAndResumesWithTheSameCAndWeights() throws {
        let dir = try setUp("adaptive")
        defer { try? FileManager.default.removeItem(at: dir) }
        try #"{"batchSize":16,"learningRate":0.05,"codec":{"quantization":{"int8":{"blockSize":64}},"zlibLevel":1},"privacy":{"noiseMultiplier":1,"clipNorm":0.05,"sampleRate":0.7,"adaptiveClipping":{"targetQuantile":0.5,"learningRate":0.5,"countNoise":1}}}"#
            .write(to: dir.appendingPathComponent("plan.json"), atomically: true, encoding: .utf8)
        let flags = ["--test-noise-seed", "9"]
        let whole = try federate(dir, rounds: 4, extra: flags, out: "whole")
        XCTAssertEqual(whole.status, 0, whole.log)
        XCTAssertEqual(whole.records.count, 4, whole.log)
        var c = 0.05
        for r in whole.records {
            XCTAssertEqual(r.clipNorm ?? 0, c, accuracy: 1e-12 * c, "round \(r.round) starts from the previous round's C")
            let next = try XCTUnwrap(r.nextClipNorm), b = try XCTUnwrap(r.unclippedFraction)
            XCTAssertEqual(next, c * exp(-0.5 * (b - 0.5)), accuracy: 1e-9 * next)
            XCTAssertNotEqual(next, c, "C moves")
            XCTAssertEqual(r.updateNoiseMultiplier ?? 0, 1 / 0.75.squareRoot(), accuracy: 1e-12)
            XCTAssertEqual(r.noiseMultiplier, 1, "the accountant is stepped with the total z")
            XCTAssertEqual(r.epsilon ?? 0, RDPAccountant.epsilon(sampleRate: 0.7, noiseMultiplier: 1, steps: r.round, delta: 1e-5), accuracy: 1e-9)
            for name in r.accepted {
                let m = r.nodeMetrics[name] ?? [:]
                let norm = try XCTUnwrap(m["update_norm"], "\(name) reports its norm: \(m)")
                XCTAssertEqual(m["clipped"], norm > c ? 1 : 0, "\(name) clipped against the round's C = \(c) (norm \(norm))")
            }
            c = next
        }
        XCTAssertTrue(whole.records.contains { $0.accepted.count > 0 }, "some round had updates")
        XCTAssertTrue(whole.log.contains("C = 0.05 → "), whole.log)

        let first = try federate(dir, rounds: 2, extra: flags, out: "split")
        XCTAssertEqual(first.status, 0, first.log)
        XCTAssertEqual(first.records.count, 2, first.log)
        let resumed = try federate(dir, rounds: 4, extra: flags, out: "split", resume: true)
        XCTAssertEqual(resumed.status, 0, resumed.log)
        XCTAssertEqual(resumed.records.count, 4, resumed.log)
        XCTAssertTrue(resumed.log.contains("next C = \(String(format: "%.4g", first.records[1].nextClipNorm!))"), resumed.log)
        XCTAssertEqual(resumed.records.map(\.clipNorm), whole.records.map(\.clipNorm))
        XCTAssertEqual(resumed.records.map(\.nextClipNorm), whole.records.map(\.nextClipNorm))
        XCTAssertEqual(resumed.records.map(\.epsilon), whole.records.map(\.epsilon))
        XCTAssertEqual(resumed.records.map(\.accepted), whole.records.map(\.accepted))
        let a = try CheckpointFile.load(dir.appendingPathComponent("whole/global.ckpt").path)
        let b = try CheckpointFile.load(dir.appendingPathComponent("split/global.ckpt").path)
        let initial = try CheckpointFile.load(dir.appendingPathComponent("init.ckpt").path)
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name))
        XCTAssertEqual(a.tensors.map { $0.value.data.map(\.bitPattern) }, b.tensors.map { $0.value.data.map(\.bitPattern) }, "same final weights")
        XCTAssertNotEqual(a.tensors.map { $0.value.data }, initial.tensors.map { $0.value.data }, "the model moved")
    }
}

extension PrivacyProcessTests {
    /// Adaptive clipping on the fixed-fraction path (`--dp-adaptive-clip 0.5`, σ_b = 2 from the
    /// plan, z = 1): accounted with q = 1, the denominator and the expected reports are the 3
    /// sampled nodes, C moves by exp(−η(b̄ − γ)) and the nodes clip to each round's C.
    /// Settings that cannot run are refused naming the field or flag: the default σ_b = m/20 is
    /// too small for z = 1 with q·N = 1.5 or N = 3 expected reports, and Poisson sampling with
    /// secure aggregation.
    func testAdaptiveClippingOnTheFixedFractionPathAndItsRefusals() throws {
        let dir = try setUp("adaptive-fixed")
        defer { try? FileManager.default.removeItem(at: dir) }
        try #"{"batchSize":16,"learningRate":0.05,"privacy":{"noiseMultiplier":1,"clipNorm":0.05,"adaptiveClipping":{"countNoise":2}}}"#
            .write(to: dir.appendingPathComponent("adaptive.json"), atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("plan.json"))
        try FileManager.default.copyItem(at: dir.appendingPathComponent("adaptive.json"), to: dir.appendingPathComponent("plan.json"))
        let run = try federate(dir, rounds: 2, extra: ["--dp-adaptive-clip", "0.5"])
        XCTAssertEqual(run.status, 0, run.log)
        XCTAssertEqual(run.records.count, 2, run.log)
        var c = 0.05
        for r in run.records {
            XCTAssertEqual(r.sampleRate, 1)
            XCTAssertEqual(r.denominator, 3)
            XCTAssertEqual(r.accepted.count, 3)
            XCTAssertEqual(r.clipNorm ?? 0, c, accuracy: 1e-12 * c)
            let next = try XCTUnwrap(r.nextClipNorm), b = try XCTUnwrap(r.unclippedFraction)
            XCTAssertEqual(next, c * exp(-0.2 * (b - 0.5)), accuracy: 1e-9 * next)
            XCTAssertEqual(r.updateNoiseMultiplier ?? 0, 1 / (1 - 1.0 / 16).squareRoot(), accuracy: 1e-12)
            XCTAssertEqual(r.epsilon ?? 0, RDPAccountant.epsilon(sampleRate: 1, noiseMultiplier: 1, steps: r.round, delta: 1e-5), accuracy: 1e-9)
            for name in r.accepted {
                let m = r.nodeMetrics[name] ?? [:]
                XCTAssertEqual(m["clipped"], (m["update_norm"] ?? 0) > c ? 1 : 0, "\(name) clipped against the round's C = \(c)")
            }
            c = next
        }
        try #"{"batchSize":16}"#.write(to: dir.appendingPathComponent("plain.json"), atomically: true, encoding: .utf8)
        for (plan, flags, expected, code) in [
            ("plain.json", ["--dp-noise", "1", "--dp-sample-rate", "0.5", "--dp-adaptive-clip", "0.5"], "privacy.adaptiveClipping.countNoise", Int32(1)),
            ("plain.json", ["--dp-noise", "1", "--dp-adaptive-clip", "0.5"], "privacy.adaptiveClipping.countNoise", 1),
            ("plain.json", ["--dp-noise", "1", "--dp-sample-rate", "0.5", "--secure-aggregation"], "sampleRate cannot be combined with secureAggregation", 2),
            ("plain.json", ["--dp-noise", "1", "--dp-sample-rate", "0"], "--dp-sample-rate must be in (0, 1]", 2)] {
            let (status, log) = try ProcessHarness.refusedCoordinator(in: dir, plan: plan, flags: flags)
            XCTAssertEqual(status, code, log)
            XCTAssertTrue(log.contains(expected), "\(flags): \(log)")
        }
    }
}

extension PrivacyProcessTests {
    /// Adaptive clipping under secure aggregation and distributed DP: each node's centred bit is
    /// one more word of its masked input, so the coordinator reads only the noised count. With a
    /// count noise of σ_b = 10⁻³ (z = 10⁻⁴) the count is exact to ~10⁻³: every node is clipped
    /// at C = 10⁻³ (b̄ ≈ 0, C grows by e^{η/2}) and none at C = 10³ (b̄ ≈ 1, C shrinks), which
    /// only holds if the bits travel through the masked sum and are scaled back correctly.
    func testAdaptiveClippingUnderSecureAggregationCountsTheBitsInsideTheMaskedSum() throws {
        let dir = try setUp("adaptive-secagg")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (c, expected) in [(0.001, 0.0), (1000.0, 1.0)] {
            try #"{"batchSize":16,"learningRate":0.05,"privacy":{"noiseMultiplier":0.0001,"clipNorm":\#(c),"mode":"distributed","adaptiveClipping":{"countNoise":0.001,"learningRate":0.5}},"secureAggregation":{}}"#
                .write(to: dir.appendingPathComponent("plan.json"), atomically: true, encoding: .utf8)
            let run = try federate(dir, rounds: 2, extra: [], out: "out-\(c)")
            XCTAssertEqual(run.status, 0, run.log)
            XCTAssertEqual(run.records.count, 2, run.log)
            var current = c
            for r in run.records {
                XCTAssertEqual(r.accepted.count, 3, run.log)
                XCTAssertEqual(r.secureAggregationThreshold, 2)
                XCTAssertEqual(r.denominator, 3, "DP-FedAvg divides by the n sampled")
                XCTAssertNil(r.nodeMetrics.values.first { $0["clipped"] != nil || $0["update_norm"] != nil }, "no bit or norm in the clear")
                XCTAssertEqual(r.clipNorm ?? 0, current, accuracy: 1e-12 * current)
                let b = try XCTUnwrap(r.unclippedFraction, run.log)
                XCTAssertEqual(b, expected, accuracy: 0.01, "C = \(current)")
                XCTAssertEqual(r.nextClipNorm ?? 0, current * exp(-0.5 * (b - 0.5)), accuracy: 1e-9 * current)
                XCTAssertEqual(r.noiseMultiplier, 0.0001)
                current = r.nextClipNorm ?? 0
            }
        }
    }
}
