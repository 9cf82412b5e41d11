import CohortCheckpoint
import Foundation
import XCTest

/// Dataset schemas through the real binary: `schema infer`, `pretrain`/`evaluate --schema`, and
/// a federation whose sites' CSV columns come in different orders.
final class SchemaProcessTests: XCTestCase {
    private let columns = ["age", "chol", "sex", "ward", "outcome"]

    /// A site's rows as cells by column name: a numeric age, cholesterol with some `NA`, a
    /// text sex, a three-valued ward and a text outcome.
    private func rows(site: Int, count: Int) -> [[String: String]] {
        var state: UInt64 = 7 &+ UInt64(site) &* 1_000_003
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        return (0..<count).map { i in
            let sick = i % 2 == 1
            let age = 45 + (sick ? 12 : 0) + uniform() * 20
            let chol = 180 + (sick ? 40 : 0) + uniform() * 50
            return ["age": String(format: "%.1f", age), "chol": i % 9 == 4 ? "NA" : String(format: "%.0f", chol),
                    "sex": uniform() < 0.5 ? "female" : "male", "ward": ["A", "B", "C"][Int(uniform() * 3)],
                    "outcome": sick ? "sick" : "healthy"]
        }
    }

    private func write(_ rows: [[String: String]], order: [String], to path: String) throws {
        // Quoted header cells and CRLF endings, as spreadsheet exports write them.
        var text = order.map { "\"\($0)\"" }.joined(separator: ",") + "\r\n"
        for r in rows { text += order.map { r[$0]! }.joined(separator: ",") + "\r\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    private func makeDir(_ tag: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-schema-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func testInferPretrainEvaluateWithColumnsInAnyOrder() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try makeDir("train")
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let site0 = rows(site: 0, count: 160), site1 = rows(site: 1, count: 120)
        let shuffled = ["ward", "outcome", "chol", "sex", "age"]
        try write(site0, order: columns, to: p("s0.csv"))
        try write(site1, order: columns, to: p("s1.csv"))
        try write(site1, order: shuffled, to: p("s1-shuffled.csv"))

        let inferred = try ProcessHarness.capture(["schema", "infer", p("s0.csv"), "--label", "outcome", "--out", p("schema.json")])
        XCTAssertEqual(inferred.status, 0, inferred.stderr)
        XCTAssertTrue(inferred.stdout.contains("label 'outcome': 2 classes: healthy (80), sick (80)"), inferred.stdout)
        XCTAssertTrue(inferred.stdout.contains("18 missing → median"), inferred.stdout)
        // age, chol, sex (binary), ward (3 one-hot): 6 values per sample.
        try #"{"inputShape":[6],"layers":[{"kind":"dense","name":"fc","units":8},{"kind":"relu","name":"act"},{"kind":"dense","name":"head","units":2}]}"#
            .write(toFile: p("arch.json"), atomically: true, encoding: .utf8)

        for (files, out) in [(["s0.csv", "s1.csv"], "same.ckpt"), (["s0.csv", "s1-shuffled.csv"], "shuffled.ckpt")] {
            let r = try ProcessHarness.capture(["pretrain", "--arch", p("arch.json"), "--schema", p("schema.json"), "--label", "outcome",
                                                "--epochs", "8", "--seed", "3", "--out", p(out)] + files.flatMap { ["--data", p($0)] })
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let same = try CheckpointFile.load(p("same.ckpt")), shuffledRun = try CheckpointFile.load(p("shuffled.ckpt"))
        XCTAssertEqual(same.tensors.map { $0.value.data.map(\.bitPattern) }, shuffledRun.tensors.map { $0.value.data.map(\.bitPattern) },
                       "column order does not change the trained weights")
        let fitted = try XCTUnwrap(same.metadata.preprocessing)
        XCTAssertEqual(fitted, shuffledRun.metadata.preprocessing)
        XCTAssertEqual(fitted.classNames, ["healthy", "sick"])
        XCTAssertEqual(fitted.schema.encodedNames, ["age", "chol", "sex", "ward=A", "ward=B", "ward=C"])

        // The checkpoint's preprocessing reads raw CSV in either column order with nothing repeated.
        let a = try ProcessHarness.capture(["evaluate", p("same.ckpt"), "--data", p("s1.csv"), "--json"])
        let b = try ProcessHarness.capture(["evaluate", p("same.ckpt"), "--data", p("s1-shuffled.csv"), "--json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        let report = try JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as? [String: Any]
        XCTAssertGreaterThan(report?["accuracy"] as? Double ?? 0, 0.7, a.stdout)

        // adapt reads the raw target with the checkpoint's preprocessing and passes it on.
        let adapted = try ProcessHarness.capture(["adapt", "--model", p("same.ckpt"), "--target", p("s1-shuffled.csv"), "--method", "adabn",
                                                  "--out", p("adapted.ckpt")])
        XCTAssertEqual(adapted.status, 0, adapted.stderr)
        XCTAssertEqual(try CheckpointFile.load(p("adapted.ckpt")).metadata.preprocessing, fitted)

        // A file with problems: every one listed, grouped per column, exit status 1.
        try "age,chol,sex,ward,outcome\n50,NA,M ,A,sick\n51,200,male,D,sick\n52,210,female,A,maybe\n"
            .write(toFile: p("bad.csv"), atomically: true, encoding: .utf8)
        let bad = try ProcessHarness.capture(["evaluate", p("same.ckpt"), "--data", p("bad.csv")])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("bad.csv: column 'sex': value 'M ' not in [female, male] (row 2); column 'ward': value 'D' not in [A, B, C] (row 3); "
                                          + "column 'outcome': value 'maybe' not in [healthy, sick] (row 4)"), bad.stderr)
        let missing = try ProcessHarness.capture(["evaluate", p("same.ckpt"), "--data", p("s0.csv"), "--schema", p("arch.json")])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("not a dataset schema"), missing.stderr)
    }

    func testFederationGivesTheSameModelWhenSitesOrderTheirColumnsDifferently() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try makeDir("fed")
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let site0 = rows(site: 0, count: 120), site1 = rows(site: 1, count: 90)
        try write(site0, order: columns, to: p("a0.csv"))
        try write(site1, order: columns, to: p("a1.csv"))
        try write(site0, order: ["sex", "outcome", "age", "ward", "chol"], to: p("b0.csv"))
        try write(site1, order: ["chol", "ward", "age", "outcome", "sex"], to: p("b1.csv"))
        XCTAssertEqual(try ProcessHarness.capture(["schema", "infer", p("a0.csv"), "--label", "outcome", "--out", p("schema.json")]).status, 0)
        try #"{"inputShape":[6],"layers":[{"kind":"dense","name":"fc","units":8},{"kind":"relu","name":"act"},{"kind":"dense","name":"head","units":2}]}"#
            .write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        try #"{"batchSize":16,"localEpochs":1,"seed":4}"#.write(toFile: p("plan.json"), atomically: true, encoding: .utf8)
        var secrets = ""
        for s in 0..<2 {
            let key = String(format: "%032llx", 0x0abc_def0_1234_5678 &+ UInt64(s))
            secrets += "site\(s) \(key)\n"
            try (key + "\n").write(toFile: p("site\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try ProcessHarness.capture(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"]).status, 0)

        func federate(_ prefix: String) throws -> Checkpoint {
            let port = try ProcessHarness.freePort()
            let coordinator = try ProcessHarness.launch(
                ["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"), "--listen", "127.0.0.1:\(port)",
                 "--rounds", "3", "--min-nodes", "2", "--round-timeout", "30", "--wait", "30", "--out", p("out-\(prefix)"), "--insecure"],
                stderr: dir.appendingPathComponent("\(prefix)-coordinator.log"))
            let nodes = try (0..<2).map { s in
                try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                           "--data", p("\(prefix)\(s).csv"), "--test", p("\(prefix)\(1 - s).csv"), "--schema", p("schema.json"),
                                           "--insecure"],
                                          stderr: dir.appendingPathComponent("\(prefix)-node\(s).log"))
            }
            XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 120), 0,
                           (try? String(contentsOfFile: p("\(prefix)-coordinator.log"), encoding: .utf8)) ?? "")
            for (s, n) in nodes.enumerated() {
                XCTAssertEqual(ProcessHarness.wait(n, seconds: 20), 0, (try? String(contentsOfFile: p("\(prefix)-node\(s).log"), encoding: .utf8)) ?? "")
            }
            return try CheckpointFile.load(p("out-\(prefix)/global.ckpt"))
        }
        let agreeing = try federate("a"), reordered = try federate("b")
        XCTAssertEqual(agreeing.metadata.metrics["round"], 3)
        XCTAssertEqual(agreeing.tensors.map(\.name), reordered.tensors.map(\.name))
        XCTAssertEqual(agreeing.tensors.map { $0.value.data.map(\.bitPattern) }, reordered.tensors.map { $0.value.data.map(\.bitPattern) },
                       "sites whose columns come in other orders give the same federated model")
        let initial = try CheckpointFile.load(p("init.ckpt"))
        XCTAssertNotEqual(initial.tensors.map { $0.value.data }, agreeing.tensors.map { $0.value.data }, "the federation trained")
    }
}
