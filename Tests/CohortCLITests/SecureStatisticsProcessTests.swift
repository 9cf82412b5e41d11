import CohortCheckpoint
import CohortData
import CohortFederation
import CohortTensor
import Foundation
import XCTest

/// The federated statistics round under `secureAggregation` through the real binary: two
/// `cohort node` processes with `--schema` and a coordinator on loopback, once with a plain
/// plan and once with secure aggregation. The masked sum of the sites' additive statistics
/// gives the same fit as the plain round (means and scales within the fixed point's error,
/// counts exactly), and neither site's statistics appear in the coordinator's log.
final class SecureStatisticsProcessTests: XCTestCase {
    private var dir = FileManager.default.temporaryDirectory
    private let sites = ["north", "south"]
    private func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
    private func log(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }

    override func tearDown() {
        if dir.lastPathComponent.hasPrefix("cohort-secstats-") { try? FileManager.default.removeItem(at: dir) }
    }

    /// Two sites' CSVs, a schema, a model and secrets in a fresh folder.
    private func prepare() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-secstats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

        // Raw units with large squares: cholesterol-like values around 200 and 900 000.
        var rng = SeededRandom(seed: 5)
        for (k, s) in sites.enumerated() {
            var csv = "chol,income,unit,outcome\n"
            for i in 0..<(k == 0 ? 150 : 70) {
                let sick = rng.uniform() < 0.5
                let chol = i % 13 == 3 ? "" : String(format: "%.2f", Double((k == 0 ? 190 : 260) + (sick ? 15 : 0)) + 20 * Double(rng.normal()))
                let income = String(format: "%.1f", 900_000 + 50_000 * Double(rng.normal()))
                csv += "\(chol),\(income),\(["icu", "ward", "day"][i % 3]),\(sick ? "sick" : "well")\n"
            }
            try csv.write(toFile: p("\(s).csv"), atomically: true, encoding: .utf8)
        }
        let schema = """
        {"version": 1, "label": {"column": "outcome", "classes": ["sick", "well"]},
         "features": [{"name": "chol", "type": "numeric", "missing": "mean"},
                      {"name": "income", "type": "numeric"},
                      {"name": "unit", "type": "categorical", "categories": ["icu", "ward", "day"]}]}
        """
        try schema.write(toFile: p("schema.json"), atomically: true, encoding: .utf8)
        try #"{"inputShape":[5],"layers":[{"kind":"dense","name":"head","units":2}]}"#.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try ProcessHarness.capture(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")]).status, 0)
        var secrets = ""
        for (i, s) in sites.enumerated() {
            let key = String(format: "%032llx", 0xbeef_0000 &+ UInt64(i))
            secrets += "\(s) \(key)\n"
            try (key + "\n").write(toFile: p("\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)
    }

    /// One federation of both sites with `plan`, named `run`; the fit the coordinator shipped.
    private func federate(_ run: String, plan: String) throws -> FittedPreprocessing {
        try plan.write(toFile: p("\(run)-plan.json"), atomically: true, encoding: .utf8)
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("\(run)-plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:0", "--port-file", p("\(run)-port"), "--rounds", "1", "--min-nodes", "2",
                                                     "--out", p("\(run)-out"), "--insecure"], stderr: dir.appendingPathComponent("\(run)-coordinator.log"))
        var port = ""
        for _ in 0..<200 where port.isEmpty {
            Thread.sleep(forTimeInterval: 0.05)
            port = ((try? String(contentsOfFile: p("\(run)-port"), encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertFalse(port.isEmpty, "the coordinator wrote its port")
        let nodes = try sites.map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", s, "--secret-file", p("\(s).key"), "--insecure",
                                       "--schema", p("schema.json"), "--data", p("\(s).csv"), "--save-model", p("\(run)-\(s).ckpt")],
                                      stderr: dir.appendingPathComponent("\(run)-\(s).log"))
        }
        for (s, n) in zip(sites, nodes) { XCTAssertEqual(ProcessHarness.wait(n, seconds: 90), 0, log("\(run)-\(s).log")) }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 90), 0, log("\(run)-coordinator.log"))
        let fit = try XCTUnwrap(try CheckpointFile.load(p("\(run)-out/global.ckpt")).metadata.preprocessing)
        for s in sites { XCTAssertEqual(try CheckpointFile.load(p("\(run)-\(s).ckpt")).metadata.preprocessing, fit, "\(run): \(s) applied the shipped fit") }
        return fit
    }

    func testSecureRoundFitsWhatThePlainRoundFits() throws {
        try prepare()
        let plain = try federate("plain", plan: #"{"preprocessing": {"fit": "federated"}, "localEpochs": 1}"#)
        let secure = try federate("secure", plan: #"{"preprocessing": {"fit": "federated"}, "secureAggregation": {}, "localEpochs": 1}"#)

        let coordinatorLog = log("secure-coordinator.log")
        XCTAssertTrue(coordinatorLog.contains("summed the additive statistics of 2 node(s) under secure aggregation"), coordinatorLog)
        XCTAssertTrue(coordinatorLog.contains("summed under secure aggregation from north, south"), coordinatorLog)
        // The plain round names each site's rows; the secure one does not.
        XCTAssertTrue(log("plain-coordinator.log").contains("north "), log("plain-coordinator.log"))
        XCTAssertFalse(coordinatorLog.contains("(north "), coordinatorLog)
        for s in sites { XCTAssertTrue(log("secure-\(s).log").contains("sent the masked statistics"), log("secure-\(s).log")) }

        XCTAssertEqual(secure.rows, plain.rows)
        for (a, b) in zip(secure.columns, plain.columns) {
            XCTAssertEqual(a.count, b.count, a.name)
            XCTAssertEqual(a.categoryCounts, b.categoryCounts, a.name)
            // Fixed point: each site's sums within 2^-33; float32 centre and scale round the same.
            XCTAssertEqual(a.center, b.center, accuracy: max(1e-5, abs(b.center) * 1e-6), a.name)
            XCTAssertEqual(a.scale, b.scale, accuracy: max(1e-5, b.scale * 1e-5), a.name)
            XCTAssertEqual(a.fill ?? -1, b.fill ?? -1, accuracy: max(1e-5, abs(b.fill ?? 1) * 1e-6), a.name)
        }
        // Neither site's own mean: the sum has both (north around 197, south around 267).
        XCTAssertGreaterThan(secure.columns[0].center, 205)
        XCTAssertLessThan(secure.columns[0].center, 255)
    }

    /// Under privacy (distributed, with secure aggregation) the statistics are released with
    /// noise and their ε is composed with the round's in the journal.
    func testPrivateRoundIsNoisedAndAccountedInTheJournal() throws {
        try prepare()
        let plan = #"""
        {"preprocessing": {"fit": "federated", "bounds": {"chol": [100, 400], "income": [0, 2000000]}, "noiseMultiplier": 0.001},
         "secureAggregation": {}, "privacy": {"noiseMultiplier": 1.5, "clipNorm": 1, "mode": "distributed"}, "localEpochs": 1}
        """#
        let fit = try federate("private", plan: plan)
        XCTAssertEqual(fit.noiseMultiplier, 0.001)
        let coordinatorLog = log("private-coordinator.log")
        XCTAssertTrue(coordinatorLog.contains("statistics round: released under distributed DP with σ = 0.001"), coordinatorLog)
        for s in sites { XCTAssertTrue(log("private-\(s).log").contains("sent the masked private (distributed DP, σ = 0.001) statistics"), log("private-\(s).log")) }
        // Equal site weights: the centre of `chol` near (197 + 267) / 2, not either site's.
        XCTAssertEqual(Double(fit.columns[0].center), 232, accuracy: 8)
        XCTAssertNil(fit.columns[0].median)
        // rounds.jsonl: round 1's ε is that of both releases together.
        let line = try XCTUnwrap(log("private-out/rounds.jsonl").split(separator: "\n").first)
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let epsilon = try XCTUnwrap(record["epsilon"] as? Double), delta = try XCTUnwrap(record["delta"] as? Double)
        let q = try XCTUnwrap(record["sampleRate"] as? Double)
        var both = RDPAccountant()
        both.step(noiseMultiplier: 0.001, sampleRate: 1)
        both.step(noiseMultiplier: 1.5, sampleRate: q)
        XCTAssertEqual(epsilon, both.epsilon(delta: delta), accuracy: 1e-6 * epsilon)
        XCTAssertGreaterThan(epsilon, RDPAccountant.epsilon(sampleRate: q, noiseMultiplier: 1.5, steps: 1, delta: delta) * 1.5)
    }
}
