import CohortData
import CohortNN
import CohortTensor
import XCTest

final class SchemaReaderTests: XCTestCase {
    static let schemaJSON = """
    {"version": 1,
     "label": {"column": "outcome", "classes": ["0", "1"]},
     "features": [
       {"name": "age", "type": "numeric"},
       {"name": "chol", "type": "numeric", "missing": "median"},
       {"name": "sex", "type": "binary", "categories": ["female", "male"]},
       {"name": "site", "type": "categorical", "categories": ["A", "B", "C"], "missing": "most-frequent", "indicator": true}
     ],
     "ignore": ["id"]}
    """

    private func schema(_ json: String = SchemaReaderTests.schemaJSON) throws -> DatasetSchema {
        try DatasetSchema.decode(Data(json.utf8), source: "s.json")
    }

    private func read(_ csv: String, _ s: DatasetSchema? = nil) throws -> SiteData {
        try SchemaReader.read(bytes: Array(csv.utf8), path: "site.csv", schema: s ?? schema())
    }

    func testColumnsAreMatchedByNameWhateverTheirOrder() throws {
        let a = "id,age,chol,sex,site,outcome\n1,50,200,male,A,1\n2,60,NA,female,C,0.0\n3,70,180,male,,\n"
        let b = "outcome,site,sex,chol,age,id\n1,A,male,200,50,1\n0.0,C,female,NA,60,2\n,,male,180,70,3\n"
        let ra = try read(a), rb = try read(b)
        XCTAssertEqual(ra.labelled.labels, [1, 0])
        XCTAssertEqual(rb.labelled.labels, [1, 0])
        XCTAssertEqual(ra.labelled.inputs.data.map { $0.isNaN ? -99 : $0 }, [50, 200, 1, 0, 60, -99, 0, 2])
        XCTAssertEqual(ra.labelled.inputs.data.map { $0.isNaN ? -99 : $0 }, rb.labelled.inputs.data.map { $0.isNaN ? -99 : $0 })
        XCTAssertEqual(ra.unlabelled.data.map { $0.isNaN ? -99 : $0 }, [70, 180, 1, -99])
        XCTAssertEqual(rb.unlabelled.data.map { $0.isNaN ? -99 : $0 }, [70, 180, 1, -99])
        XCTAssertEqual(ra.classNames, ["0", "1"])
    }

    func testMissingAndUnexpectedColumnsAreListedTogether() {
        let message = errorMessage { _ = try self.read("age,sex,extra,outcome,other\n1,male,2,0,3\n") }
        XCTAssertEqual(message, "site.csv: missing columns 'chol', 'site'; unexpected columns 'extra', 'other' (add them to the schema's features or \"ignore\")")
        XCTAssertEqual(errorMessage { _ = try self.read("age,chol,sex,site,site,outcome\n") },
                       "site.csv: column 'site' named more than once in the header")
    }

    func testEveryProblemIsListedGroupedPerColumnWithTheFirstRows() {
        var csv = "age,chol,sex,site,outcome\n"
        // Rows (file lines) 2…9: age empty on lines 3, 5, 7, 9; 'M ' in sex on line 4; 'x' in chol on line 6;
        // label 7 on line 8; line 9 also has 'NA' for age.
        let rows = ["50,200,male,A,1", ",190,female,B,0", "52,180,M ,A,1", ",170,male,B,0",
                    "53,x,female,C,1", ",160,male,A,0", "54,150,female,B,7", "NA,140,male,C,1"]
        csv += rows.joined(separator: "\n") + "\n"
        let message = errorMessage { _ = try self.read(csv) }
        XCTAssertEqual(message, "site.csv: column 'age': 3 empty cells (rows 3, 5, 7); column 'sex': value 'M ' not in [female, male] (row 4); "
                       + "column 'chol': value 'x' not a finite number (row 6); column 'outcome': value '7' not in [0, 1] (row 8); "
                       + "column 'age': 1 missing cell ('NA') (row 9)")
    }

    func testManyEmptyCellsNameOnlyTheFirstRows() {
        var csv = "age,chol,sex,site,outcome\n"
        for i in 0..<172 { csv += (i % 2 == 0 ? "," : "40,") + "1,male,A,1\n" }
        let message = errorMessage { _ = try self.read(csv) }
        XCTAssertEqual(message, "site.csv: column 'age': 86 empty cells (rows 2, 4, 6, …)")
    }

    func testWrongCellCountsAreListed() {
        let message = errorMessage { _ = try self.read("age,chol,sex,site,outcome\n1,2,male\n1,2,male,A,1\n1,2,male,A,1,9\n") }
        XCTAssertEqual(message, "site.csv: 2 rows with a cell count other than the header's 5 (row 2 has 3, row 4 has 6)")
    }

    func testAbsurdLabelIsAnErrorNotAnAllocation() {
        let message = errorMessage { _ = try self.read("age,chol,sex,site,outcome\n1,2,male,A,1099511627776\n") }
        XCTAssertEqual(message, "site.csv: column 'outcome': value '1099511627776' not in [0, 1] (row 2)")
    }

    func testTextLabelsAndNumericClassesWrittenWithADecimalPoint() throws {
        var s = try schema()
        s.label.classes = ["no", "yes"]
        let d = try read("age,chol,sex,site,outcome\n1,2,male,A,yes\n1,2,female,B,no\n", s)
        XCTAssertEqual(d.labelled.labels, [1, 0])
        s.label.classes = ["0", "1", "2"]
        XCTAssertEqual(try read("age,chol,sex,site,outcome\n1,2,male,A,2.0\n1,2,male,A,0.0\n1,2,male,A, 1 \n", s).labelled.labels, [2, 0, 1])
    }

    func testDropRowPolicyLeavesRowsOut() throws {
        var s = try schema()
        s.features[0].missingPolicy = .dropRow
        let d = try read("age,chol,sex,site,outcome\n1,2,male,A,1\n?,2,male,A,0\n3,4,female,B,0\n", s)
        XCTAssertEqual(d.labelled.labels, [1, 0])
        XCTAssertEqual(d.labelled.inputs.data[4], 3)
        s.missing = ["-"]
        XCTAssertEqual(errorMessage { _ = try self.read("age,chol,sex,site,outcome\n-,2,male,A,1\n", s) },
                       "site.csv: no data rows after the header (1 dropped for missing cells in drop-row columns)")
    }
}
