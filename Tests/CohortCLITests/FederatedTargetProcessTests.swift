import CohortCheckpoint
import CohortData
import CohortTensor
import Foundation
import XCTest

/// A regression target's scaling fitted in the federated statistics round, through the real
/// binary: two sites whose prices differ (around 300 and 700), `preprocessing.fit: federated`,
/// in the clear and under secure aggregation. The shipped fit's target centre and scale are the
/// pooled labelled rows' (not either site's), and both sites apply it.
final class FederatedTargetProcessTests: XCTestCase {
    func testTargetScalingIsFittedOverBothSites() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-fedtarget-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func log(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }

        var rng = SeededRandom(seed: 21)
        let sites = ["east", "west"]
        for (k, s) in sites.enumerated() {
            var csv = "x1,zone,price\n"
            for i in 0..<(k == 0 ? 160 : 90) {
                let x1 = Double(rng.normal()), b = i % 2 == 0
                let price = (k == 0 ? 300 : 700) + 40 * x1 + (b ? 30 : 0) + 5 * Double(rng.normal())
                csv += String(format: "%.3f", x1) + ",\(b ? "B" : "A")," + (i % 17 == 3 ? "" : String(format: "%.2f", price)) + "\n"
            }
            try csv.write(toFile: p("\(s).csv"), atomically: true, encoding: .utf8)
        }
        let schemaJSON = """
        {"version": 1, "label": {"column": "price", "task": "regression"},
         "features": [{"name": "x1", "type": "numeric", "missing": "mean"},
                      {"name": "zone", "type": "categorical", "categories": ["A", "B"]}]}
        """
        try schemaJSON.write(toFile: p("schema.json"), atomically: true, encoding: .utf8)
        try #"{"inputShape":[3],"layers":[{"kind":"dense","name":"head","units":1}]}"#.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try ProcessHarness.capture(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")]).status, 0)
        var secrets = ""
        for (i, s) in sites.enumerated() {
            let key = String(format: "%032llx", 0xcafe_0000 &+ UInt64(i))
            secrets += "\(s) \(key)\n"
            try (key + "\n").write(toFile: p("\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)

        // The pooled labelled training rows' targets (the nodes' own seeded validation split).
        let schema = try DatasetSchema.decode(Data(schemaJSON.utf8), source: "schema.json")
        let targets = try sites.flatMap { try SchemaPipeline.prepare(paths: [p("\($0).csv")], schema: schema, validationFraction: 0.2, seed: 0).rawTrain.labelled.targets?.data ?? [] }
        let pooled = try XCTUnwrap(try FittedPreprocessing.fit(schema: schema, rows: Tensor(shape: [targets.count, 2], data: [Float](repeating: 0, count: 2 * targets.count)),
                                                               targets: Tensor(shape: [targets.count, 1], data: targets)).target)

        for (run, plan) in [("plain", #"{"preprocessing": {"fit": "federated"}, "localEpochs": 1}"#),
                            ("secure", #"{"preprocessing": {"fit": "federated"}, "secureAggregation": {}, "localEpochs": 1}"#)] {
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
                                           "--schema", p("schema.json"), "--data", p("\(s).csv"), "--loss", "mse", "--save-model", p("\(run)-\(s).ckpt")],
                                          stderr: dir.appendingPathComponent("\(run)-\(s).log"))
            }
            for (s, n) in zip(sites, nodes) { XCTAssertEqual(ProcessHarness.wait(n, seconds: 90), 0, log("\(run)-\(s).log")) }
            XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 90), 0, log("\(run)-coordinator.log"))
            let fit = try XCTUnwrap(try CheckpointFile.load(p("\(run)-out/global.ckpt")).metadata.preprocessing)
            let target = try XCTUnwrap(fit.target, "\(run): the fit carries the target's scaling")
            XCTAssertEqual(target.count, pooled.count, run)
            XCTAssertEqual(target.center, pooled.center, accuracy: 1e-3, run)
            XCTAssertEqual(target.scale, pooled.scale, accuracy: 1e-3, run)
            // Between the sites (300 and 700), and spread over both.
            XCTAssertGreaterThan(target.center, 400, run)
            XCTAssertLessThan(target.center, 600, run)
            XCTAssertGreaterThan(target.scale, 150, run)
            for s in sites { XCTAssertEqual(try CheckpointFile.load(p("\(run)-\(s).ckpt")).metadata.preprocessing, fit, "\(run): \(s) applied the shipped fit") }
        }
    }
}
