import CohortData
import CohortNN
import CohortTensor
import XCTest

final class FittedPreprocessingTests: XCTestCase {
    private let csv = "age,chol,sex,site,outcome\n10,1,male,A,1\n20,NA,female,B,0\n30,5,male,,1\n40,3,female,B,0\n"

    private func schema() throws -> DatasetSchema {
        try DatasetSchema.decode(Data(SchemaReaderTests.schemaJSON.utf8), source: "s.json")
    }

    func testFitsOnTheGivenRowsAndEncodesExactly() throws {
        let s = try schema()
        let raw = try SchemaReader.read(bytes: Array(csv.utf8), path: "a.csv", schema: s)
        let fitted = try FittedPreprocessing.fit(schema: s, rows: raw.allInputs)
        // age 10,20,30,40: mean 25, population sd sqrt(125); chol 1,5,3 (one missing): median 3, mean 3, sd sqrt(8/3).
        XCTAssertEqual(fitted.columns[0].center, 25)
        XCTAssertEqual(fitted.columns[0].scale, Float(125.0.squareRoot()), accuracy: 1e-6)
        XCTAssertEqual(fitted.columns[1].fill, 3)
        XCTAssertEqual(fitted.columns[1].scale, Float((8.0 / 3).squareRoot()), accuracy: 1e-6)
        // site: A once, B twice, one missing → most frequent is B (index 1).
        XCTAssertEqual(fitted.columns[3].fill, 1)
        XCTAssertEqual(fitted.columns[3].categoryCounts, [1, 2, 0])
        XCTAssertEqual(s.encodedNames, ["age", "chol", "sex", "site=A", "site=B", "site=C", "site:missing"])
        let out = try fitted.apply(raw)
        XCTAssertEqual(out.sampleShape, [7])
        XCTAssertEqual(out.featureNames, s.encodedNames)
        let sd = Float(125.0.squareRoot()), cs = Float((8.0 / 3).squareRoot())
        let expected: [Float] = [
            -15 / sd, (1 - 3) / cs, 1, 1, 0, 0, 0,
            -5 / sd, 0, 0, 0, 1, 0, 0,          // chol missing → median 3 → standardised 0
            5 / sd, (5 - 3) / cs, 1, 0, 1, 0, 1, // site missing → B, indicator 1
            15 / sd, 0, 0, 0, 1, 0, 0,
        ]
        for (a, b) in zip(out.labelled.inputs.data, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(out.labelled.labels, [1, 0, 1, 0])
    }

    func testConstantAndMeanFillsAndUnstandardisedColumns() throws {
        var s = try schema()
        s.features[1].missingPolicy = .mean
        s.features[0].standardize = false
        s.features[3].missingPolicy = .constant
        s.features[3].fill = "C"
        try s.validate()
        let raw = try SchemaReader.read(bytes: Array(csv.utf8), path: "a.csv", schema: s)
        let fitted = try FittedPreprocessing.fit(schema: s, rows: raw.allInputs)
        let out = try fitted.apply(raw).labelled.inputs
        XCTAssertEqual(Array(out.data[0..<1]), [10])                  // not standardised
        XCTAssertEqual(out.data[7 + 1], 0, accuracy: 1e-6)            // mean fill 3 → 0
        XCTAssertEqual(Array(out.data[14 + 3 ..< 14 + 7]), [0, 0, 1, 1]) // constant C, indicator
    }

    func testAColumnWithNoValuesCannotBeFitted() throws {
        let s = try schema()
        let raw = try SchemaReader.read(bytes: Array("age,chol,sex,site,outcome\n1,NA,male,A,1\n".utf8), path: "a.csv", schema: s)
        XCTAssertEqual(errorMessage { _ = try FittedPreprocessing.fit(schema: s, rows: raw.allInputs) },
                       "column 'chol': no values in the 1 training rows to fit the 'median' fill")
    }

    func testRoundTripsThroughJSONAndRefusesDamagedValues() throws {
        let s = try schema()
        let raw = try SchemaReader.read(bytes: Array(csv.utf8), path: "a.csv", schema: s)
        let fitted = try FittedPreprocessing.fit(schema: s, rows: raw.allInputs)
        let back = try JSONDecoder().decode(FittedPreprocessing.self, from: try JSONEncoder().encode(fitted))
        XCTAssertEqual(back, fitted)
        XCTAssertNoThrow(try back.validate(source: "ck"))
        var bad = fitted
        bad.columns[0].scale = 0
        bad.columns[3].fill = 7
        XCTAssertEqual(errorMessage { try bad.validate(source: "ck") },
                       "ck: preprocessing: column 'age': centre 25.0, scale 0.0; column 'site': fill 7.0 is not a category index below 3")
    }

    func testPipelineFitsOnTheTrainingPartOnly() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        var text = "age,chol,sex,site,outcome\n"
        for i in 0..<40 { text += "\(i),\(i % 5),\(i % 2 == 0 ? "male" : "female"),A,\(i % 2)\n" }
        try text.write(toFile: dir + "/d.csv", atomically: true, encoding: .utf8)
        let p = try SchemaPipeline.prepare(paths: [dir + "/d.csv"], schema: try schema(), validationFraction: 0.25, seed: 3)
        XCTAssertEqual(p.train.labelled.count, 30)
        XCTAssertEqual(p.validation.labelled.count, 10)
        XCTAssertEqual(p.preprocessing.rows, 30)
        // Standardised training ages have mean 0; the held-out ones were not part of the fit.
        let ages = stride(from: 0, to: p.train.labelled.inputs.count, by: 7).map { p.train.labelled.inputs.data[$0] }
        XCTAssertEqual(ages.reduce(0, +) / Float(ages.count), 0, accuracy: 1e-5)
        let rawTrainAges = ages.map { $0 * p.preprocessing.columns[0].scale + p.preprocessing.columns[0].center }
        XCTAssertEqual(Double(p.preprocessing.columns[0].center), Double(rawTrainAges.reduce(0, +)) / 30, accuracy: 1e-3)
        XCTAssertNotEqual(p.preprocessing.columns[0].center, 19.5)   // the mean over all 40 rows
    }
}
