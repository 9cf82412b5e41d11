import CohortData
import XCTest

final class SchemaInferenceTests: XCTestCase {
    /// `../shared/datasets/palmer-penguins/penguins.csv`, beside the package's clone.
    private var penguins: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/datasets/palmer-penguins/penguins.csv").path
    }

    func testPenguinsDraftFindsTypesMissingCellsAndClasses() throws {
        var path = penguins
        if !FileManager.default.fileExists(atPath: path) { path = "/work/shared/datasets/palmer-penguins/penguins.csv" }
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "penguins.csv not found beside the clone")
        let inferred = try SchemaInference.infer(path: path, label: "species")
        let s = inferred.schema
        XCTAssertEqual(inferred.rows, 344)
        XCTAssertEqual(s.label.classes, ["Adelie", "Chinstrap", "Gentoo"])
        XCTAssertEqual(s.label.found, [152, 68, 124])
        let byName = Dictionary(uniqueKeysWithValues: s.features.map { ($0.name, $0) })
        XCTAssertEqual(s.features.map(\.name), ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"])
        XCTAssertEqual(byName["island"]?.type, .categorical)
        XCTAssertEqual(byName["island"]?.categories, ["Biscoe", "Dream", "Torgersen"])
        XCTAssertEqual(byName["sex"]?.type, .binary)
        XCTAssertEqual(byName["sex"]?.categories, ["female", "male"])
        XCTAssertEqual(byName["sex"]?.found?.missing, 11)
        XCTAssertEqual(byName["bill_length_mm"]?.type, .numeric)
        XCTAssertEqual(byName["bill_length_mm"]?.found?.missing, 2)
        XCTAssertEqual(byName["bill_length_mm"]?.missingPolicy, .median)
        XCTAssertTrue(inferred.summary(path: "penguins.csv").contains("sex                binary      [female, male]  11 missing → most-frequent"),
                      inferred.summary(path: "penguins.csv"))
        // The draft reads the file it came from: every row, every value filled and finite.
        let raw = try SchemaReader.read(path: path, schema: s)
        let fitted = try FittedPreprocessing.fit(schema: s, rows: raw.allInputs)
        let data = try fitted.apply(raw)
        XCTAssertEqual(data.labelled.count, 344)
        XCTAssertEqual(data.sampleShape, [9])
        XCTAssertTrue(data.labelled.inputs.data.allSatisfy(\.isFinite))
    }

    func testInferenceRules() throws {
        let csv = "id,flag,score,colour,empty,y\n" + (0..<150).map { i in
            "p\(i),\(i % 2),\(Double(i) / 4),\(["red", "green", "blue"][i % 3]),NA,\(i % 3 == 0 ? "1.0" : "0")"
        }.joined(separator: "\n")
        let inferred = try SchemaInference.infer(bytes: Array(csv.utf8), path: "t.csv", label: "y")
        XCTAssertEqual(inferred.schema.features.map(\.name), ["flag", "score", "colour"])
        XCTAssertEqual(inferred.schema.features.map(\.type), [.binary, .numeric, .categorical])
        XCTAssertEqual(inferred.schema.features[2].categories, ["blue", "green", "red"])
        XCTAssertEqual(inferred.schema.ignore, ["id", "empty"])
        XCTAssertEqual(inferred.schema.label.classes, ["0", "1"])   // "1.0" and "1" are one class
        XCTAssertEqual(inferred.schema.label.found, [100, 50])
        let continuous = "x,y\n" + (0..<1500).map { "1,\(Double($0) * 0.5)" }.joined(separator: "\n")
        // A numeric label with many values is proposed as a regression target; forced to classes it is refused.
        XCTAssertTrue(try SchemaInference.infer(bytes: Array(continuous.utf8), path: "c.csv", label: "y").schema.label.isRegression)
        XCTAssertEqual(errorMessage { _ = try SchemaInference.infer(bytes: Array(continuous.utf8), path: "c.csv", label: "y", task: .classification) },
                       "c.csv: label column 'y' has more than 1000 distinct values; it looks like a continuous target (give --task regression)")
    }
}
