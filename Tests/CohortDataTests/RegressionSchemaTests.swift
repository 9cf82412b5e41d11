import CohortData
import CohortNN
import CohortTensor
import XCTest

final class RegressionSchemaTests: XCTestCase {
    static let schemaJSON = """
    {"version": 1,
     "label": {"column": "price", "task": "regression"},
     "features": [
       {"name": "size", "type": "numeric", "missing": "median"},
       {"name": "zone", "type": "categorical", "categories": ["A", "B"]}
     ]}
    """

    private func schema(_ json: String = RegressionSchemaTests.schemaJSON) throws -> DatasetSchema {
        try DatasetSchema.decode(Data(json.utf8), source: "s.json")
    }

    private func read(_ csv: String) throws -> SiteData {
        try SchemaReader.read(bytes: Array(csv.utf8), path: "site.csv", schema: schema())
    }

    func testRegressionLabelDecodesAndRoundTrips() throws {
        let s = try schema()
        XCTAssertTrue(s.label.isRegression)
        XCTAssertEqual(s.label.classes, [])
        let again = try DatasetSchema.decode(try s.json(), source: "again")
        XCTAssertEqual(again, s)
        XCTAssertFalse(String(decoding: try s.json(), as: UTF8.self).contains("classes"))
        // A classification label still needs its classes.
        XCTAssertThrowsError(try schema(#"{"version": 1, "label": {"column": "y"}, "features": [{"name": "x", "type": "numeric"}]}"#))
    }

    func testRegressionLabelValidation() {
        let both = #"{"version": 1, "label": {"column": "y", "task": "regression", "classes": ["0", "1"]}, "features": [{"name": "x", "type": "numeric"}]}"#
        XCTAssertTrue(errorMessage { _ = try self.schema(both) }.contains("a regression target has no classes"))
        let std = #"{"version": 1, "label": {"column": "y", "classes": ["0", "1"], "standardize": false}, "features": [{"name": "x", "type": "numeric"}]}"#
        XCTAssertTrue(errorMessage { _ = try self.schema(std) }.contains("'standardize' applies to a regression target only"))
    }

    func testTargetsAreReadAsNumbersAndMissingOnesAreUnlabelled() throws {
        let d = try read("zone,price,size\nA,100.5,3\nB,,4\nB,-20,NA\nA,1e3,5\n")
        XCTAssertTrue(d.labelled.isRegression)
        XCTAssertEqual(d.labelled.targets?.data, [100.5, -20, 1000])
        XCTAssertEqual(d.labelled.targets?.shape, [3, 1])
        XCTAssertEqual(d.unlabelled.rows, 1)
        XCTAssertEqual(d.classes, 1)
        XCTAssertNil(d.classNames)
    }

    func testNonFiniteTargetsAreErrorsNamingTheirRows() {
        // NaN is a missing marker by default; with markers that leave it out it is an error, as are inf and float32 overflow.
        let csv = "size,zone,price\n1,A,inf\n2,B,3\n3,A,1e39\n4,B,-Infinity\n5,A,abc\n"
        let message = errorMessage { _ = try self.read(csv) }
        XCTAssertTrue(message.contains("column 'price'"), message)
        XCTAssertTrue(message.contains("4 values not a finite number"), message)
        for row in ["(row 2)", "(row 4)", "(row 5)"] { XCTAssertTrue(message.contains(row), "\(row) in: \(message)") }
        XCTAssertFalse(message.contains("rows 3"), message)
        var s = try! schema()
        s.missing = [""]
        XCTAssertTrue(errorMessage { _ = try SchemaReader.read(bytes: Array("size,zone,price\n1,A,NaN\n".utf8), path: "n.csv", schema: s) }
            .contains("row 2"))
    }

    func testTargetIsStandardisedAndReportedInOriginalUnits() throws {
        let raw = try read("size,zone,price\n1,A,10\n2,B,20\n3,A,30\n4,B,40\n")
        let fitted = try FittedPreprocessing.fit(schema: schema(), rows: raw.allInputs, targets: raw.labelled.targets)
        XCTAssertEqual(fitted.target?.mean ?? 0, 25, accuracy: 1e-9)
        XCTAssertEqual(Double(fitted.target?.scale ?? 0), (125.0).squareRoot(), accuracy: 1e-4)
        let encoded = try fitted.apply(raw)
        let t = encoded.labelled.targets!.data
        XCTAssertEqual(t.reduce(0, +), 0, accuracy: 1e-5)
        XCTAssertEqual(t[3], Float(15 / (125.0).squareRoot()), accuracy: 1e-5)
        XCTAssertEqual(encoded.labelled.targetScaling, fitted.targetScaling)
        // Predicting every target 10 too high is an MAE of 10 in the original units.
        let preds = t.map { $0 + 10 / fitted.target!.scale }
        let r = try RegressionReport(predictions: preds, targets: t, outputs: 1, scaling: encoded.labelled.targetScaling)
        XCTAssertEqual(r.mae, 10, accuracy: 1e-3)
        // The target statistics travel through JSON (the checkpoint) and are validated.
        let back = try JSONDecoder().decode(FittedPreprocessing.self, from: JSONEncoder().encode(fitted))
        XCTAssertEqual(back, fitted)
        XCTAssertNoThrow(try back.validate(source: "c"))
        var broken = back
        broken.target = nil
        XCTAssertTrue(errorMessage { try broken.validate(source: "c") }.contains("without fitted target statistics"))
        // standardize: false keeps the units.
        var plain = try schema()
        plain.label.standardize = false
        XCTAssertEqual(try FittedPreprocessing.fit(schema: plain, rows: raw.allInputs, targets: raw.labelled.targets).apply(raw).labelled.targets?.data, [10, 20, 30, 40])
        XCTAssertThrowsError(try FittedPreprocessing.fit(schema: schema(), rows: raw.allInputs))
    }

    func testPipelineSplitsAndPoolsKeepTargets() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        var csv = "size,zone,price\n"
        for i in 0..<50 { csv += "\(i),\(i % 2 == 0 ? "A" : "B"),\(3 * i + 7)\n" }
        let path = dir + "/r.csv"
        writeBytes(Array(csv.utf8), to: path)
        let p = try SchemaPipeline.prepare(paths: [path, path], schema: schema(), validationFraction: 0.2, seed: 1)
        XCTAssertEqual(p.train.labelled.count + p.validation.labelled.count, 100)
        XCTAssertEqual(p.validation.labelled.targets?.rows, p.validation.labelled.count)
        // Each row's standardised target still matches its standardised size (price = 3·size + 7).
        let scale = p.preprocessing.columns[0].scale, center = p.preprocessing.columns[0].center
        let ts = p.preprocessing.target!
        for i in 0..<p.train.labelled.count {
            let size = p.train.labelled.inputs.data[i * 3] * scale + center
            let price = p.train.labelled.targets!.data[i] * ts.scale + ts.center
            XCTAssertEqual(price, 3 * size + 7, accuracy: 1e-3)
        }
    }

    func testInferenceProposesRegressionForManyNumbers() throws {
        var csv = "x,y,kind\n"
        for i in 0..<100 { csv += "\(i),\(Double(i) * 1.5 + 0.25),\(i % 3)\n" }
        let inferred = try SchemaInference.infer(bytes: Array(csv.utf8), path: "r.csv", label: "y")
        XCTAssertTrue(inferred.schema.label.isRegression)
        XCTAssertTrue(inferred.summary(path: "r.csv").contains("continuous target"))
        // A numeric label with few values stays classification unless asked.
        let few = try SchemaInference.infer(bytes: Array(csv.utf8), path: "r.csv", label: "kind")
        XCTAssertEqual(few.schema.label.classes, ["0", "1", "2"])
        XCTAssertTrue(try SchemaInference.infer(bytes: Array(csv.utf8), path: "r.csv", label: "kind", task: .regression).schema.label.isRegression)
        XCTAssertFalse(try SchemaInference.infer(bytes: Array(csv.utf8), path: "r.csv", label: "y", task: .classification).schema.label.isRegression)
        // Text cannot be a regression target.
        XCTAssertTrue(errorMessage { _ = try SchemaInference.infer(bytes: Array("x,y\n1,a\n2,b\n".utf8), path: "t.csv", label: "y", task: .regression) }
            .contains("must be numbers"))
    }
}
