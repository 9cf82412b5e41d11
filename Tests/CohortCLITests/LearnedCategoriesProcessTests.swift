import CohortCheckpoint
import CohortData
import CohortTensor
import Foundation
import XCTest

/// Categories learned in federation through the real binary: three `cohort node` processes
/// whose sites hold different subsets of a categorical column's values (one site never sees
/// one of them) read it with a schema that leaves the categories out; the statistics round
/// learns the union. The same federation run again with those categories listed in the
/// schema gives the same preprocessing and the same model. `predict` on a value never seen
/// names the row and column.
final class LearnedCategoriesProcessTests: XCTestCase {
    static let sites = ["north", "south", "east"]
    /// Each site's values of `unit`: east never sees `icu`.
    static let units = ["north": ["icu", "ward", "ward"], "south": ["icu", "hdu", "ward", "hdu"], "east": ["ward", "hdu"]]

    func testSitesLearnTheUnionAndTrainTheModelListedCategoriesGive() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-learned-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }

        var rng = SeededRandom(seed: 5)
        for (k, s) in Self.sites.enumerated() {
            var csv = "unit,level,outcome\n"
            let values = Self.units[s]!
            for i in 0..<(60 + 20 * k) {
                let unit = i % 13 == 7 ? "NA" : values[i % values.count]
                let sick = rng.uniform() < (unit == "icu" ? 0.8 : unit == "hdu" ? 0.55 : 0.25)
                csv += "\(unit),\(String(format: "%.2f", Double((sick ? 3 : 0) + rng.normal()))),\(sick ? "sick" : "well")\n"
            }
            try csv.write(toFile: p("\(s).csv"), atomically: true, encoding: .utf8)
        }
        let learnedSchema = """
        {"version": 1, "label": {"column": "outcome", "classes": ["sick", "well"]},
         "features": [{"name": "level", "type": "numeric", "missing": "mean"},
                      {"name": "unit", "type": "categorical", "missing": "most-frequent"}]}
        """
        try learnedSchema.write(toFile: p("learned.json"), atomically: true, encoding: .utf8)
        try #"{"inputShape":[4],"layers":[{"kind":"dense","name":"head","units":2}]}"#.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try ProcessHarness.capture(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "3"]).status, 0)
        try #"{"preprocessing": {"fit": "federated"}, "localEpochs": 2, "seed": 9}"#.write(toFile: p("plan.json"), atomically: true, encoding: .utf8)
        var secrets = ""
        for (i, s) in Self.sites.enumerated() {
            let key = String(format: "%032llx", 0xcafe_0000 &+ UInt64(i))
            secrets += "\(s) \(key)\n"
            try (key + "\n").write(toFile: p("\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)

        let learned = try federate(schema: p("learned.json"), out: "learned", dir: dir)
        let fit = try XCTUnwrap(learned.metadata.preprocessing)
        let unit = fit.schema.features[1]
        XCTAssertEqual(unit.learned, true)
        // ward 2/3 of north + 1/2 of east + 1/4 of south; hdu from south and east; icu from north and south.
        XCTAssertEqual(unit.categories, ["ward", "hdu", "icu"], "the union by descending count")
        XCTAssertEqual(try ProcessHarness.capture(["evaluate", p("learned/global.ckpt"), "--data", p("east.csv")]).status, 0)
        let coordinatorLog = (try? String(contentsOfFile: p("learned-coordinator.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(coordinatorLog.contains("statistics round: learned categories: unit [ward, hdu, icu]"), coordinatorLog)

        // The same federation with the learned list written into the schema.
        let listedSchema = learnedSchema.replacingOccurrences(of: #""name": "unit", "type": "categorical","#,
                                                              with: #""name": "unit", "type": "categorical", "categories": ["ward", "hdu", "icu"],"#)
        try listedSchema.write(toFile: p("listed.json"), atomically: true, encoding: .utf8)
        let listed = try federate(schema: p("listed.json"), out: "listed", dir: dir)
        let listedFit = try XCTUnwrap(listed.metadata.preprocessing)
        XCTAssertEqual(listedFit.columns, fit.columns, "the same statistics")
        XCTAssertEqual(listedFit.schema.features[1].categories, unit.categories)
        XCTAssertEqual(listed.tensors.map(\.name), learned.tensors.map(\.name))
        for (a, b) in zip(learned.tensors, listed.tensors) {
            XCTAssertEqual(a.value.shape, b.value.shape, a.name)
            for (x, y) in zip(a.value.data, b.value.data) { XCTAssertEqual(x, y, accuracy: 1e-5, a.name) }
        }

        // Predict: a value never seen at any site is an error naming its row and column.
        try "unit,level\nward,0.5\nnicu,2.0\n".write(toFile: p("new.csv"), atomically: true, encoding: .utf8)
        let predicted = try ProcessHarness.capture(["predict", p("learned/global.ckpt"), "--data", p("new.csv"), "--out", p("logits.csv")])
        XCTAssertNotEqual(predicted.status, 0)
        XCTAssertTrue(predicted.stderr.contains("column 'unit': value 'nicu' not in [ward, hdu, icu] (row 3)"), predicted.stderr)
    }

    /// Runs a coordinator and the three nodes with `schema`; returns the global checkpoint.
    private func federate(schema: String, out: String, dir: URL) throws -> Checkpoint {
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:0", "--port-file", p("\(out).port"), "--rounds", "2", "--min-nodes", "3",
                                                     "--out", p(out), "--insecure"], stderr: dir.appendingPathComponent("\(out)-coordinator.log"))
        var port = ""
        for _ in 0..<200 where port.isEmpty {
            Thread.sleep(forTimeInterval: 0.05)
            port = ((try? String(contentsOfFile: p("\(out).port"), encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertFalse(port.isEmpty, "the coordinator wrote its port")
        let nodes = try Self.sites.map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", s, "--secret-file", p("\(s).key"), "--insecure",
                                       "--schema", schema, "--data", p("\(s).csv")],
                                      stderr: dir.appendingPathComponent("\(out)-\(s).log"))
        }
        func log(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }
        for (s, n) in zip(Self.sites, nodes) { XCTAssertEqual(ProcessHarness.wait(n, seconds: 60), 0, log("\(out)-\(s).log")) }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 60), 0, log("\(out)-coordinator.log"))
        return try CheckpointFile.load(p("\(out)/global.ckpt"))
    }
}
