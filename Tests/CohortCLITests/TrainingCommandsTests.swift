import XCTest
import Foundation

/// `cohort pretrain`, `evaluate` and `aggregate` through the real binary.
final class TrainingCommandsTests: XCTestCase {
    private func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) { try ProcessHarness.capture(args) }

    func testPretrainEvaluateAndAggregate() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        // Two separable classes in 4 features; every fifth row unlabelled (empty label cell).
        var csv = "a,b,c,d,target\n"
        for i in 0..<200 {
            let y = i % 2, s = y == 1 ? 1.0 : -1.0
            let xs = (0..<4).map { j in s * (j < 2 ? 1.5 : 0.3) + sin(Double(i * 7 + j)) * 0.8 }
            csv += xs.map { String(format: "%.4f", $0) }.joined(separator: ",") + "," + (i % 5 == 4 ? "" : "\(y)") + "\n"
        }
        try csv.write(toFile: p("data.csv"), atomically: true, encoding: .utf8)
        try #"{"inputShape":[4],"layers":[{"kind":"dense","name":"fc","units":8},{"kind":"relu","name":"act"},{"kind":"dense","name":"head","units":2}]}"#
            .write(toFile: p("arch.json"), atomically: true, encoding: .utf8)

        for (seed, out) in [("1", "a.ckpt"), ("2", "b.ckpt")] {
            let r = try run(["pretrain", "--arch", p("arch.json"), "--data", p("data.csv"), "--epochs", "15", "--lr", "0.1", "--seed", seed, "--out", p(out)])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("128 training and 32 validation samples"), r.stderr)   // 160 labelled rows, 20% held out
        }
        let evaluated = try run(["evaluate", p("a.ckpt"), "--data", p("data.csv"), "--json"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any]
        XCTAssertGreaterThan(report?["accuracy"] as? Double ?? 0, 0.9, evaluated.stdout)

        let merged = try run(["aggregate", p("a.ckpt"), p("b.ckpt"), "--weights", "1,1", "--out", p("m.ckpt")])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertEqual(try run(["evaluate", p("m.ckpt"), "--data", p("data.csv")]).status, 0)

        let bad = try run(["aggregate", p("a.ckpt"), p("b.ckpt"), "--weights", "1", "--out", p("x.ckpt")])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("has 1 values for 2 checkpoints"), bad.stderr)
        let neither = try run(["pretrain", "--data", p("data.csv"), "--out", p("y.ckpt")])
        XCTAssertEqual(neither.status, 2)
        XCTAssertTrue(neither.stderr.contains("--arch") && neither.stderr.contains("--init"), neither.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p("x.ckpt")))
    }
}
