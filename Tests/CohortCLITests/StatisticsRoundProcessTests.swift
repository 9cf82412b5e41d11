import CohortCheckpoint
import CohortData
import CohortTensor
import Foundation
import XCTest

/// The federated statistics round through the real binary: one multi-site CSV split by its
/// site column (`cohort data split`), two `cohort node` processes with `--schema`, a coordinator
/// whose plan asks for `preprocessing.fit = federated`. The coordinator's checkpoint and both
/// sites' saved models carry the one fit, equal to the pooled training rows' statistics.
final class StatisticsRoundProcessTests: XCTestCase {
    func testSplitSitesGetOneFitEqualToThePooledStatistics() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-stats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }

        // Hospital "north" measures around 20, "south" around 80; a few cells missing.
        var rng = SeededRandom(seed: 11)
        var csv = "hospital,level,unit,outcome\n"
        for i in 0..<220 {
            let south = i % 3 == 0
            let sick = rng.uniform() < 0.5
            let level = i % 17 == 5 ? "NA" : String(format: "%.2f", Double((south ? 80 : 20) + (sick ? 6 : 0) + 4 * rng.normal()))
            csv += "\(south ? "south" : "north"),\(level),\(["icu", "ward"][i % 2]),\(sick ? "sick" : "well")\n"
        }
        try csv.write(toFile: p("all.csv"), atomically: true, encoding: .utf8)
        let schema = """
        {"version": 1, "label": {"column": "outcome", "classes": ["sick", "well"]}, "ignore": ["hospital"],
         "features": [{"name": "level", "type": "numeric", "missing": "median"},
                      {"name": "unit", "type": "categorical", "categories": ["icu", "ward"]}]}
        """
        try schema.write(toFile: p("schema.json"), atomically: true, encoding: .utf8)
        let split = try ProcessHarness.capture(["data", "split", p("all.csv"), "--by", "hospital", "--out", p("split")])
        XCTAssertEqual(split.status, 0, split.stderr)
        XCTAssertTrue(split.stdout.contains("north: 146 rows") && split.stdout.contains("south: 74 rows"), split.stdout)

        try #"{"inputShape":[3],"layers":[{"kind":"dense","name":"head","units":2}]}"#.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try ProcessHarness.capture(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")]).status, 0)
        try #"{"preprocessing": {"fit": "federated"}, "localEpochs": 2}"#.write(toFile: p("plan.json"), atomically: true, encoding: .utf8)
        let sites = ["north", "south"]
        var secrets = ""
        for (i, s) in sites.enumerated() {
            let key = String(format: "%032llx", 0xfeed_0000 &+ UInt64(i))
            secrets += "\(s) \(key)\n"
            try (key + "\n").write(toFile: p("\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)

        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:0", "--port-file", p("port"), "--rounds", "2", "--min-nodes", "2",
                                                     "--out", p("out"), "--insecure"], stderr: dir.appendingPathComponent("coordinator.log"))
        var port = ""
        for _ in 0..<200 where port.isEmpty {
            Thread.sleep(forTimeInterval: 0.05)
            port = ((try? String(contentsOfFile: p("port"), encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertFalse(port.isEmpty, "the coordinator wrote its port")
        let nodes = try sites.map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", s, "--secret-file", p("\(s).key"), "--insecure",
                                       "--schema", p("schema.json"), "--data", p("split/\(s).csv"), "--save-model", p("\(s).ckpt")],
                                      stderr: dir.appendingPathComponent("\(s).log"))
        }
        func log(_ name: String) -> String { (try? String(contentsOfFile: p(name), encoding: .utf8)) ?? "" }
        for (s, n) in zip(sites, nodes) { XCTAssertEqual(ProcessHarness.wait(n, seconds: 60), 0, log("\(s).log")) }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 60), 0, log("coordinator.log"))
        XCTAssertTrue(log("coordinator.log").contains("statistics round: fitted the preprocessing on"), log("coordinator.log"))

        // The pooled statistics of both nodes' training rows (the same seeded validation split the nodes make).
        let parsed = try DatasetSchema.decode(Data(schema.utf8), source: "schema.json")
        let raws = try sites.map { try SchemaPipeline.prepare(paths: [p("split/\($0).csv")], schema: parsed, validationFraction: 0.2, seed: 0).rawTrain.allInputs }
        let pooled = try FittedPreprocessing.fit(schema: parsed, rows: Tensor(shape: [raws.reduce(0) { $0 + $1.rows }, 2], data: raws.flatMap(\.data)))
        let shipped = try XCTUnwrap(try CheckpointFile.load(p("out/global.ckpt")).metadata.preprocessing)
        XCTAssertEqual(shipped.rows, pooled.rows)
        XCTAssertEqual(shipped.columns[0].center, pooled.columns[0].center, accuracy: 1e-3)
        XCTAssertEqual(shipped.columns[0].scale, pooled.columns[0].scale, accuracy: 1e-3)
        XCTAssertEqual(shipped.columns[0].fill, pooled.columns[0].fill)
        XCTAssertEqual(shipped.columns[1].categoryCounts, pooled.columns[1].categoryCounts)
        // Neither site's own statistics: the pooled centre lies between the two hospitals.
        XCTAssertGreaterThan(shipped.columns[0].center, 30)
        XCTAssertLessThan(shipped.columns[0].center, 70)
        for s in sites {
            XCTAssertEqual(try CheckpointFile.load(p("\(s).ckpt")).metadata.preprocessing, shipped, "\(s) applied the shipped fit")
        }
        // The global checkpoint reads a site's raw file with the fit it carries.
        let evaluated = try ProcessHarness.capture(["evaluate", p("out/global.ckpt"), "--data", p("split/south.csv")])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    }
}
