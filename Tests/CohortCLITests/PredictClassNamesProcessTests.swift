import Foundation
import XCTest

/// `cohort predict` and `cohort evaluate` with a checkpoint that carries preprocessing: raw CSV
/// read by column name (no label column needed), class names instead of indices.
final class PredictClassNamesProcessTests: XCTestCase {
    /// Two well separated groups: 'healthy' with low age and cholesterol, 'sick' with high.
    private func table(count: Int, order: [String], seed: UInt64, label: Bool = true) -> (text: String, truth: [String]) {
        var state = seed
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        var text = order.filter { label || $0 != "outcome" }.joined(separator: ",") + "\n"
        var truth: [String] = []
        for i in 0..<count {
            let sick = i % 3 == 0
            let cells = ["age": String(format: "%.1f", (sick ? 70 : 40) + uniform() * 10), "chol": String(format: "%.0f", (sick ? 260 : 180) + uniform() * 30),
                         "ward": ["A", "B"][Int(uniform() * 2)], "outcome": sick ? "sick" : "healthy"]
            truth.append(cells["outcome"]!)
            text += order.filter { label || $0 != "outcome" }.map { cells[$0]! }.joined(separator: ",") + "\n"
        }
        return (text, truth)
    }

    func testPredictWritesClassNamesAndEvaluateNamesTheConfusionMatrix() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-predict-names-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try table(count: 150, order: ["age", "chol", "ward", "outcome"], seed: 5).text.write(toFile: p("train.csv"), atomically: true, encoding: .utf8)
        let unlabelled = table(count: 40, order: ["ward", "chol", "age", "outcome"], seed: 9, label: false)
        try unlabelled.text.write(toFile: p("new.csv"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try ProcessHarness.capture(["schema", "infer", p("train.csv"), "--label", "outcome", "--out", p("schema.json")]).status, 0)
        // age, chol, ward (binary): 3 values per sample.
        try #"{"inputShape":[3],"layers":[{"kind":"dense","name":"head","units":2}]}"#.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        let pre = try ProcessHarness.capture(["pretrain", "--arch", p("arch.json"), "--schema", p("schema.json"), "--data", p("train.csv"),
                                              "--epochs", "10", "--out", p("m.ckpt")])
        XCTAssertEqual(pre.status, 0, pre.stderr)

        let pred = try ProcessHarness.capture(["predict", p("m.ckpt"), "--data", p("new.csv"), "--out", p("logits.csv"), "--labels", p("names.csv")])
        XCTAssertEqual(pred.status, 0, pred.stderr)
        let names = try String(contentsOfFile: p("names.csv"), encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(names.first, "predicted")
        XCTAssertEqual(Array(names.dropFirst()).count, 40)
        XCTAssertTrue(names.dropFirst().allSatisfy { $0 == "healthy" || $0 == "sick" }, "\(names)")
        let correct = zip(names.dropFirst(), unlabelled.truth).filter { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(correct, 36, "\(names) vs \(unlabelled.truth)")
        // The names agree with the logits' arg-max (class 0 = healthy, 1 = sick).
        let logits = try String(contentsOfFile: p("logits.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",").map { Float($0)! } }
        XCTAssertEqual(logits.map { $0[1] > $0[0] ? "sick" : "healthy" }, Array(names.dropFirst()))

        // --schema must be the stored one; a file missing a feature column is refused by name.
        let other = try ProcessHarness.capture(["predict", p("m.ckpt"), "--data", p("new.csv"), "--out", p("x.csv"), "--schema", p("arch.json")])
        XCTAssertNotEqual(other.status, 0)
        try "age,ward\n50,A\n".write(toFile: p("short.csv"), atomically: true, encoding: .utf8)
        let short = try ProcessHarness.capture(["predict", p("m.ckpt"), "--data", p("short.csv"), "--out", p("x.csv")])
        XCTAssertNotEqual(short.status, 0)
        XCTAssertTrue(short.stderr.contains("missing column 'chol'"), short.stderr)

        let eval = try ProcessHarness.capture(["evaluate", p("m.ckpt"), "--data", p("train.csv")])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.contains("true\\pred  healthy     sick"), eval.stdout)
    }
}
