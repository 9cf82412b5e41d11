import CohortCheckpoint
import CohortFederation
import Foundation
import XCTest

/// A continuous target through the real binary: `schema infer` proposes regression, `pretrain`
/// and `evaluate` report MAE/RMSE in the target's units and R², and a federation of two sites
/// (`cohort coordinator` + 2 `cohort node`) reaches an R² an untrained model cannot.
final class RegressionProcessTests: XCTestCase {
    private let columns = ["x1", "x2", "x3", "zone", "price"]

    /// price = 300 + 40·x1 − 25·x2 + 10·x3 + 30·[zone B] + noise(sd 5); the sites' x1 ranges
    /// differ (covariate shift), so a site's own statistics are not the other's.
    private func rows(site: Int, count: Int) -> [[String: String]] {
        var state: UInt64 = 11 &+ UInt64(site) &* 7_919
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        func normal() -> Double { (-2 * log(max(uniform(), 1e-12))).squareRoot() * cos(2 * Double.pi * uniform()) }
        return (0..<count).map { i in
            let x1 = Double(site) + 2 * uniform(), x2 = 3 * uniform(), x3 = normal()
            let b = uniform() < 0.5
            let price = 300 + 40 * x1 - 25 * x2 + 10 * x3 + (b ? 30 : 0) + 5 * normal()
            return ["x1": String(format: "%.3f", x1), "x2": i % 13 == 5 ? "NA" : String(format: "%.3f", x2), "x3": String(format: "%.3f", x3),
                    "zone": b ? "B" : "A", "price": String(format: "%.2f", price)]
        }
    }

    private func write(_ rows: [[String: String]], order: [String], to path: String) throws {
        var text = order.joined(separator: ",") + "\n"
        for r in rows { text += order.map { r[$0]! }.joined(separator: ",") + "\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func testRegressionTableFederatedThroughCoordinatorAndTwoNodes() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-regression-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try write(rows(site: 0, count: 240), order: columns, to: p("s0.csv"))
        try write(rows(site: 1, count: 200), order: ["price", "zone", "x3", "x2", "x1"], to: p("s1.csv"))

        let inferred = try ProcessHarness.capture(["schema", "infer", p("s0.csv"), "--label", "price", "--out", p("schema.json")])
        XCTAssertEqual(inferred.status, 0, inferred.stderr)
        XCTAssertTrue(inferred.stdout.contains("label 'price': continuous target"), inferred.stdout)
        // x1, x2, x3 numeric, zone binary: 4 values per sample; a regression head of 1 unit.
        try #"{"inputShape":[4],"layers":[{"kind":"dense","name":"head","units":1}]}"#.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        try #"{"inputShape":[4],"layers":[{"kind":"dense","name":"head","units":2}]}"#.write(toFile: p("arch2.json"), atomically: true, encoding: .utf8)

        // pretrain + evaluate: metrics in the target's units.
        let pre = try ProcessHarness.capture(["pretrain", "--arch", p("arch.json"), "--schema", p("schema.json"), "--data", p("s0.csv"),
                                              "--epochs", "15", "--lr", "0.05", "--loss", "huber", "--out", p("pre.ckpt")])
        XCTAssertEqual(pre.status, 0, pre.stderr)
        XCTAssertTrue(pre.stderr.contains("val R²"), pre.stderr)
        let preMetrics = try CheckpointFile.load(p("pre.ckpt")).metadata.metrics
        XCTAssertGreaterThan(preMetrics["val_r2"] ?? 0, 0.9, pre.stderr)
        XCTAssertNil(preMetrics["val_accuracy"])
        let eval = try ProcessHarness.capture(["evaluate", p("pre.ckpt"), "--data", p("s0.csv"), "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let evalMetrics = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any] ?? [:]
        let r2 = evalMetrics["r2"] as? Double ?? 0, mae = evalMetrics["mae"] as? Double ?? .infinity
        XCTAssertGreaterThan(r2, 0.9, eval.stdout)
        // The noise has sd 5 (MAE ≈ 4): an error in standardised units would be far below 1.
        XCTAssertGreaterThan(mae, 2, eval.stdout)
        XCTAssertLessThan(mae, 12, eval.stdout)
        // predict reads the raw CSV (no price column, another order) and --labels gives prices in their units.
        try write(rows(site: 0, count: 30), order: ["zone", "x3", "x2", "x1"], to: p("new.csv"))
        let truth = rows(site: 0, count: 30).map { Double($0["price"]!)! }
        let pred = try ProcessHarness.capture(["predict", p("pre.ckpt"), "--data", p("new.csv"), "--out", p("new-logits.csv"), "--labels", p("new-prices.csv")])
        XCTAssertEqual(pred.status, 0, pred.stderr)
        let prices = try String(contentsOfFile: p("new-prices.csv"), encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(prices.first, "predicted")
        XCTAssertEqual(prices.count, 31)
        let predicted = prices.dropFirst().compactMap { Double($0) }
        XCTAssertEqual(predicted.count, 30)
        let predictMAE = zip(predicted, truth).map { abs($0 - $1) }.reduce(0, +) / 30
        XCTAssertLessThan(predictMAE, 12, "predictions in price units: \(predicted.prefix(5)) vs \(truth.prefix(5))")
        let logitLines = try String(contentsOfFile: p("new-logits.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(logitLines.first, "logit_0")
        XCTAssertLessThan(abs(Double(logitLines[1])!), 5, "the logits file keeps the standardised output")

        let wrongHead = try ProcessHarness.capture(["pretrain", "--arch", p("arch2.json"), "--schema", p("schema.json"), "--data", p("s0.csv"),
                                                    "--epochs", "1", "--out", p("bad.ckpt")])
        XCTAssertNotEqual(wrongHead.status, 0)
        XCTAssertTrue(wrongHead.stderr.contains("head of 1 unit"), wrongHead.stderr)

        // Federation.
        try #"{"batchSize":16,"localEpochs":2,"learningRate":0.03,"seed":4}"#.write(toFile: p("plan.json"), atomically: true, encoding: .utf8)
        var secrets = ""
        for s in 0..<2 {
            let key = String(format: "%032llx", 0x0abc_def0_1234_5678 &+ UInt64(s))
            secrets += "site\(s) \(key)\n"
            try (key + "\n").write(toFile: p("site\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try ProcessHarness.capture(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"]).status, 0)
        // The untrained model, scored with statistics fitted on the file itself, is far from R² 0.9.
        let untrained = try ProcessHarness.capture(["evaluate", p("init.ckpt"), "--data", p("s1.csv"), "--schema", p("schema.json"), "--json"])
        XCTAssertEqual(untrained.status, 0, untrained.stderr)
        let untrainedR2 = (try JSONSerialization.jsonObject(with: Data(untrained.stdout.utf8)) as? [String: Any])?["r2"] as? Double ?? 1
        XCTAssertLessThan(untrainedR2, 0.5, untrained.stdout)

        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(
            ["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"), "--listen", "127.0.0.1:\(port)",
             "--rounds", "5", "--min-nodes", "2", "--round-timeout", "30", "--wait", "30", "--out", p("out"), "--insecure"],
            stderr: dir.appendingPathComponent("coordinator.log"))
        let nodes = try (0..<2).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("s\(s).csv"), "--test", p("s\(1 - s).csv"), "--schema", p("schema.json"),
                                       "--loss", "mse", "--save-model", p("site\(s).ckpt"), "--insecure"],
                                      stderr: dir.appendingPathComponent("node\(s).log"))
        }
        let coordinatorLog = { (try? String(contentsOfFile: p("coordinator.log"), encoding: .utf8)) ?? "" }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 180), 0, coordinatorLog())
        for (s, n) in nodes.enumerated() {
            XCTAssertEqual(ProcessHarness.wait(n, seconds: 30), 0, (try? String(contentsOfFile: p("node\(s).log"), encoding: .utf8)) ?? "")
        }
        let record = try EvaluationRecord.load(outDir: p("out"))
        XCTAssertEqual(record.nodes.count, 2, coordinatorLog())
        for (name, metrics) in record.nodes {
            XCTAssertGreaterThan(metrics["test_r2"] ?? 0, 0.9, "\(name): \(metrics)")
            XCTAssertGreaterThan(metrics["val_r2"] ?? 0, 0.9, "\(name): \(metrics)")
            XCTAssertLessThan(metrics["test_mae"] ?? .infinity, 15, "\(name): MAE in price units: \(metrics)")
            XCTAssertNil(metrics["test_accuracy"], "\(name): no accuracy for a regression target")
        }
        XCTAssertTrue(coordinatorLog().contains("mean R²"), coordinatorLog())
        // The site's saved model carries its preprocessing, target statistics included: evaluate reads raw CSV in price units.
        let saved = try ProcessHarness.capture(["evaluate", p("site0.ckpt"), "--data", p("s1.csv"), "--json"])
        XCTAssertEqual(saved.status, 0, saved.stderr)
        let savedMetrics = try JSONSerialization.jsonObject(with: Data(saved.stdout.utf8)) as? [String: Any] ?? [:]
        XCTAssertGreaterThan(savedMetrics["r2"] as? Double ?? 0, 0.9, saved.stdout)
    }
}
