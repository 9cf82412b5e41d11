import XCTest
import CohortData
import CohortNN
import CohortTensor

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

    func testEmptyOrMinusOneLabelMeansUnlabelled() throws {
        let csv = "age,marker,target\n50,1.5,1\n61,2.0,\n47,0.5,-1\n52,0.7,0\n"
        let d = try CSVDataset(text: csv, path: "a.csv", label: "target")
        XCTAssertEqual(d.data.labels, [1, 0])
        XCTAssertEqual(d.data.inputs.data, [50, 1.5, 52, 0.7])
        XCTAssertEqual(d.unlabelled.shape, [2, 2])
        XCTAssertEqual(d.unlabelled.data, [61, 2.0, 47, 0.5])
        // Only unlabelled rows is still data.
        let none = try CSVDataset(text: "a,target\n1,\n2,-1", path: "b.csv", label: "target")
        XCTAssertEqual(none.data.count, 0)
        XCTAssertEqual(none.unlabelled.rows, 2)
        // Other bad labels still fail with the line and column, and a bad feature in an unlabelled row too.
        func message(_ csv: String) -> String {
            do { _ = try CSVDataset(text: csv, path: "site.csv", label: "target"); return "ok" } catch { return "\(error)" }
        }
        XCTAssertEqual(message("a,target\n1,0\n2,-2"), "site.csv:3: label '-2' in column 'target' is not a non-negative integer")
        XCTAssertEqual(message("a,target\n1,0\n2,1.5"), "site.csv:3: label '1.5' in column 'target' is not a non-negative integer")
        XCTAssertEqual(message("a,target\n1,0\nx,"), "site.csv:3: column 'a' holds 'x', not a finite number")
    }

    func testWriteThenLoadRoundTripsThroughSiteData() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let set = SiteData(labelled: LabelledData(inputs: Tensor(shape: [2, 3], data: [52, 1, 0.1, 70, 0, 1e-5]), labels: [1, 0]),
                           unlabelled: Tensor(shape: [1, 3], data: [33, 1, 123.456]), sampleShape: [3], classes: 2,
                           featureNames: ["age", "sex", "crp"])
        try CSVDataset.write(set, to: dir + "/s.csv")
        let text = String(decoding: readBytes(dir + "/s.csv"), as: UTF8.self)
        XCTAssertEqual(text, "age,sex,crp,target\n52,1,0.1,1\n70,0,1e-05,0\n33,1,123.456,\n")
        let back = try SiteData.load(path: dir + "/s.csv", classes: 2)
        XCTAssertEqual(back.labelled.inputs, set.labelled.inputs)
        XCTAssertEqual(back.labelled.labels, [1, 0])
        XCTAssertEqual(back.unlabelled, set.unlabelled)
        XCTAssertEqual(back.featureNames, ["age", "sex", "crp"])
        XCTAssertEqual(back.sampleShape, [3])
        XCTAssertEqual(errorMessage { _ = try SiteData.load(path: dir + "/s.csv", classes: 1) },
                       "\(dir)/s.csv: label 1 of labelled row 0 is not below the task's 1 classes")
        XCTAssertEqual(errorMessage { _ = try SiteData.load(path: dir + "/s.txt") }, "\(dir)/s.txt: unknown data file extension (expected .ctf or .csv)")
    }
}
