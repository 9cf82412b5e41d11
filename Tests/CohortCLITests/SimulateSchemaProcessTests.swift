import XCTest
import CohortSimulation
import Foundation

/// `cohort simulate --kind tabular --schema FILE`: the cohort is drawn from the schema (names,
/// text classes, categories, missing cells, shuffled column orders) and every process reads it
/// through `--schema`; a regression schema's report scores MAE, RMSE and R².
final class SimulateSchemaProcessTests: XCTestCase {
    static let classification = #"""
    {"version": 1, "label": {"column": "diagnosis", "classes": ["healthy", "disease"]}, "missing": ["", "NA"], "ignore": ["patient_id"],
     "features": [{"name": "age", "type": "numeric", "missing": "mean", "indicator": true},
                  {"name": "chol", "type": "numeric", "missing": "median"}, {"name": "bp", "type": "numeric"},
                  {"name": "sex", "type": "binary", "categories": ["female", "male"], "missing": "constant", "fill": "female"},
                  {"name": "chest pain", "type": "categorical", "categories": ["typical", "atypical", "non-anginal", "asymptomatic"], "missing": "most-frequent"}]}
    """#

    /// Runs `cohort simulate` with `arguments` in a fresh folder; returns the folder, status and log.
    private func simulate(_ arguments: [String], kind: String = "tabular", schema: String, in dir: URL) throws -> (status: Int32?, log: String) {
        try schema.write(to: dir.appendingPathComponent("schema.json"), atomically: true, encoding: .utf8)
        let logURL = dir.appendingPathComponent("simulate.log")
        let p = try ProcessHarness.launch(["simulate", "--quick", "--kind", kind, "--schema", dir.appendingPathComponent("schema.json").path,
                                           "--sites", "3", "--rounds", "2", "--out", dir.appendingPathComponent("run").path,
                                           "--cache", dir.appendingPathComponent("cache").path] + arguments, stderr: logURL)
        let status = ProcessHarness.wait(p, seconds: 600)
        return (status, (try? String(contentsOf: logURL, encoding: .utf8)) ?? "")
    }

    private func makeDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-sim-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func testSchemaCohortRunsThroughTheSchemaPath() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (status, log) = try simulate(["--arms", "source-only,local-only,fedavg"], schema: Self.classification, in: dir)
        XCTAssertEqual(status, 0, log)
        // The generated files: named columns in a different order per hospital, text classes, missing cells.
        let data = dir.appendingPathComponent("run/data")
        let headers = try (1...3).map { h in
            try String(contentsOf: data.appendingPathComponent("hospital\(h)-train.csv"), encoding: .utf8).split(separator: "\n")[0]
        }
        for header in headers {
            XCTAssertEqual(Set(header.split(separator: ",")), ["age", "chol", "bp", "sex", "chest pain", "patient_id", "diagnosis"], String(header))
        }
        XCTAssertGreaterThan(Set(headers).count, 1, "every hospital wrote its columns in the same order: \(headers)")
        let source = try String(contentsOf: data.appendingPathComponent("source-train.csv"), encoding: .utf8)
        XCTAssertTrue(source.contains(",healthy\n") && source.contains(",disease\n"))
        XCTAssertTrue(source.contains(",,"), "no missing cell written")
        // Every arm scored every hospital's 150 test rows through the schema's preprocessing.
        let results = try JSONDecoder().decode(SimulationResults.self, from: Data(contentsOf: dir.appendingPathComponent("run/metrics.json")))
        XCTAssertEqual(results.arms.map(\.name), ["source-only", "local-only", "fedavg"])
        for arm in results.arms {
            XCTAssertNil(arm.failed, "\(arm.name): \(arm.failed ?? "")")
            XCTAssertEqual(arm.perSite.map(\.samples), [150, 150, 150], arm.name)
            XCTAssertGreaterThan(arm.meanAccuracy, 0.6, arm.name)
        }
        XCTAssertTrue(results.settings["dataset schema"]?.contains("5 columns read by name (9 encoded values), label 'diagnosis'") ?? false,
                      "\(results.settings)")
        // The federated nodes read their CSV with the schema (a plain CSV read refuses the text labels).
        let node = try String(contentsOf: dir.appendingPathComponent("run/arms/fedavg/hospital1.log"), encoding: .utf8)
        XCTAssertTrue(node.contains("evaluated the final model"), node)
    }

    func testSchemaNeedsTabularAndRefusesAdaptationArms() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let imaging = try simulate([], kind: "imaging", schema: Self.classification, in: dir)
        XCTAssertNotEqual(imaging.status, 0)
        XCTAssertTrue(imaging.log.contains("it needs kind tabular"), imaging.log)
        let adapt = try simulate(["--arms", "fedavg,source+tent"], schema: Self.classification, in: dir)
        XCTAssertNotEqual(adapt.status, 0)
        XCTAssertTrue(adapt.log.contains("arms source+tent adapt on raw tensors"), adapt.log)
        let noCategories = try simulate([], schema: Self.classification.replacingOccurrences(of: #""categories": ["typical", "atypical", "non-anginal", "asymptomatic"], "#, with: ""), in: dir)
        XCTAssertNotEqual(noCategories.status, 0)
        XCTAssertTrue(noCategories.log.contains("categorical column 'chest pain' lists no categories (the simulation draws from them)"), noCategories.log)
    }

    func testRegressionSchemaReportsErrorsAndR2PerArm() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let schema = Self.classification.replacingOccurrences(of: #"{"column": "diagnosis", "classes": ["healthy", "disease"]}"#,
                                                              with: #"{"column": "systolic", "task": "regression"}"#)
        let (status, log) = try simulate(["--arms", "source-only,local-only,fedavg"], schema: schema, in: dir)
        XCTAssertEqual(status, 0, log)
        let results = try JSONDecoder().decode(SimulationResults.self, from: Data(contentsOf: dir.appendingPathComponent("run/metrics.json")))
        XCTAssertTrue(results.isRegression)
        for arm in results.arms {
            XCTAssertNil(arm.failed, "\(arm.name): \(arm.failed ?? "")")
            for score in arm.perSite {
                XCTAssertTrue(score.accuracy.isNaN, "\(arm.name) \(score.site)")
                XCTAssertEqual(score.samples, 150)
                XCTAssertGreaterThan(score.mae ?? .nan, 0, "\(arm.name) \(score.site)")
                XCTAssertGreaterThanOrEqual(score.rmse ?? .nan, score.mae ?? .nan, "\(arm.name) \(score.site)")
                XCTAssertGreaterThan(score.r2 ?? .nan, 0.3, "\(arm.name) \(score.site): the target is learnable from the features")
            }
        }
        XCTAssertTrue(log.contains("fedavg: mean test MAE"), log)
        XCTAssertTrue(results.notes.contains { $0.hasPrefix("Best mean R²") }, "\(results.notes)")
        let html = try String(contentsOf: dir.appendingPathComponent("run/report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("R² (mean)") && html.contains("RMSE (mean)"), "no regression summary in the report")
    }
}
