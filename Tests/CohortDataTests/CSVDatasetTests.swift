import XCTest
import CohortData

final class CSVDatasetTests: XCTestCase {
    func testParsesSelectsAndSplits() throws {
        let csv = "age,marker,target,site\n50,1.5,1,3\n61, 2.0 ,0,3\r\n47,0.5,1,3\n\n"
        let d = try CSVDataset(text: csv, path: "a.csv", label: "target", features: ["marker", "age"])
        XCTAssertEqual(d.featureNames, ["marker", "age"])
        XCTAssertEqual(d.data.inputs.shape, [3, 2])
        XCTAssertEqual(d.data.inputs.data, [1.5, 50, 2.0, 61, 0.5, 47])
        XCTAssertEqual(d.data.labels, [1, 0, 1])
        let all = try CSVDataset(text: csv, path: "a.csv", label: "target")
        XCTAssertEqual(all.featureNames, ["age", "marker", "site"])
        let (train, val) = d.split(validationFraction: 0.34, seed: 1)
        XCTAssertEqual(train.count + val.count, 3)
        XCTAssertEqual(val.count, 1)
    }

    func testErrorsNameTheFileLineAndColumn() {
        func message(_ csv: String, features: [String]? = nil) -> String {
            do { _ = try CSVDataset(text: csv, path: "site.csv", label: "target", features: features); return "ok" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(""), "site.csv: empty file (a header row is required)")
        XCTAssertEqual(message("a,b\n1,2"), "site.csv: no column 'target' for the label (columns: a, b)")
        XCTAssertEqual(message("a,target\n1,0", features: ["a", "b", "c"]), "site.csv: missing feature columns 'b', 'c' (the plan expects 3 features)")
        XCTAssertEqual(message("a,target\n1,0\nx,1"), "site.csv:3: column 'a' holds 'x', not a finite number")
        XCTAssertEqual(message("a,target\n1,0\nnan,1"), "site.csv:3: column 'a' holds 'nan', not a finite number")
        XCTAssertEqual(message("a,target\n1,0,9"), "site.csv:2: 3 cells, the header has 2")
        XCTAssertEqual(message("a,target\n1,yes"), "site.csv:2: label 'yes' in column 'target' is not a non-negative integer")
        XCTAssertEqual(message("a,target\n"), "site.csv: no data rows after the header")
    }
}
