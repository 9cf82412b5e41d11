import CohortData
import XCTest

final class DatasetSchemaTests: XCTestCase {
    private func message(_ json: String) -> String {
        errorMessage { _ = try DatasetSchema.decode(Data(json.utf8), source: "s.json") }
    }

    func testHostileOrInconsistentSchemasAreRefusedWithEveryProblem() {
        XCTAssertTrue(message("{").hasPrefix("s.json: not a dataset schema"))
        XCTAssertEqual(message(#"{"version":1,"features":[]}"#), "s.json: not a dataset schema: missing key 'label'")
        XCTAssertEqual(message(#"{"version":2,"label":{"column":"y","classes":["a"]},"features":[]}"#),
                       "s.json: schema version 2 is not supported (this build reads version 1)")
        XCTAssertEqual(message(#"""
        {"version":1,"label":{"column":"y","classes":["0","0.0","2"]},
         "features":[{"name":"a","type":"numeric"},{"name":"a","type":"binary","categories":["x","y","z"]},
                     {"name":"y","type":"categorical"},{"name":"c","type":"categorical","categories":["p","NA"],"missing":"mean"},
                     {"name":"d","type":"numeric","missing":"constant"},{"name":"e","type":"numeric","missing":"constant","fill":"abc"}]}
        """#), "s.json: column 'a' is named more than once (feature); column 'y' is named more than once (feature); "
               + "label 'y': class '0' is listed more than once; "
               + "feature 'a': a binary column has exactly 2 values, got 3; "
               + "feature 'c': category 'NA' is also a missing marker; feature 'c': 'mean' needs a numeric column; feature 'd': the 'constant' policy needs 'fill'; "
               + "feature 'e': fill 'abc' is not a finite number")
    }

    func testAbsurdSizesAreRefusedBeforeAnythingIsBuilt() {
        let many = (0..<100_001).map { "\"c\($0)\"" }.joined(separator: ",")
        XCTAssertEqual(message(#"{"version":1,"label":{"column":"y","classes":["a","b"]},"features":[{"name":"x","type":"categorical","categories":[\#(many)]}]}"#),
                       "s.json: feature 'x': 100001 categories, more than the limit of 100000")
        let classes = (0..<100_001).map { "\"\($0)\"" }.joined(separator: ",")
        XCTAssertEqual(message(#"{"version":1,"label":{"column":"y","classes":[\#(classes)]},"features":[{"name":"x","type":"numeric"}]}"#),
                       "s.json: 100001 classes, more than the limit of 100000")
        let long = String(repeating: "n", count: 2000)
        XCTAssertEqual(message(#"{"version":1,"label":{"column":"y","classes":["a"]},"features":[{"name":"\#(long)","type":"numeric"}]}"#),
                       "s.json: feature name '\(String(repeating: "n", count: 57))...' is longer than 1024 bytes")
    }

    func testEncodedWidthAndNames() throws {
        let s = try DatasetSchema.decode(Data(SchemaReaderTests.schemaJSON.utf8), source: "s")
        XCTAssertEqual(s.encodedWidth, 7)
        XCTAssertEqual(s.missingMarkers, ["", "NA", "NaN", "?"])
        // Encoding and decoding keeps every field.
        XCTAssertEqual(try JSONDecoder().decode(DatasetSchema.self, from: try s.json()), s)
    }
}
