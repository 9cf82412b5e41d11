import CohortData
import XCTest

final class CSVReaderTests: XCTestCase {
    private func records(_ text: String) throws -> [[String]] {
        var r = CSVReader(bytes: Array(text.utf8), path: "t.csv")
        var out: [[String]] = []
        while let cells = try r.next() { out.append(cells) }
        return out
    }

    func testQuotedCellsHoldCommasQuotesAndLineBreaks() throws {
        let text = "name,note,target\r\n\"Smith, J\",\"said \"\"hi\"\"\",1\r\nA,\"two\nlines\",0\r\n"
        XCTAssertEqual(try records(text), [["name", "note", "target"], ["Smith, J", "said \"hi\"", "1"], ["A", "two\nlines", "0"]])
        // Line numbers follow the file's lines, including the break inside a quoted cell.
        var r = CSVReader(bytes: Array((text + "B,c,1\n").utf8), path: "t.csv")
        var lines: [Int] = []
        while try r.next() != nil { lines.append(r.line) }
        XCTAssertEqual(lines, [1, 2, 3, 5])
    }

    func testLineEndingsAndByteOrderMark() throws {
        XCTAssertEqual(try records("\u{FEFF}a,b\r1,2\n3,4\r\n"), [["a", "b"], ["1", "2"], ["3", "4"]])
        XCTAssertEqual(try records("a,b\n\n1,\n"), [["a", "b"], [""], ["1", ""]])
    }

    func testMalformedQuotingIsAnErrorWithTheLine() {
        XCTAssertEqual(errorMessage { _ = try self.records("a,b\n1,\"open\n") }, "t.csv:2: a quoted cell is never closed")
        XCTAssertEqual(errorMessage { _ = try self.records("a,b\n1,\"x\"y\n") }, "t.csv:2: text after a closing quote (cell 2)")
        XCTAssertTrue(errorMessage { _ = try self.records("a,b\n1,x\"y\n") }.hasPrefix("t.csv:2: a quote inside an unquoted cell"))
    }

    func testLegacyReaderAcceptsQuotedCellsAndDecimalPointLabels() throws {
        let d = try CSVDataset(text: "\"a,1\",b,target\r\n\"1\",2,0.0\r\n3,4,1.0\r\n", path: "x.csv", label: "target")
        XCTAssertEqual(d.featureNames, ["a,1", "b"])
        XCTAssertEqual(d.data.labels, [0, 1])
        XCTAssertEqual(d.data.inputs.data, [1, 2, 3, 4])
    }

    func testAbsurdLabelWithoutSchemaIsRefusedBeforeAnyAllocation() {
        // A class count is allocated from the largest label: 2^40 must be an error, not 8.8 TB.
        let message = errorMessage { _ = try CSVDataset(text: "a,target\n1,0\n2,1099511627776\n", path: "x.csv", label: "target") }
        XCTAssertEqual(message, "x.csv:3: label 1099511627776 in column 'target' is not below the limit of 100000 classes; "
                       + "if the labels are codes, give a schema (--schema) listing the classes")
    }

    func testWideHeaderIsReadByName() throws {
        // 20,000 columns: the header lookup is a hash map, so this stays fast even in debug builds.
        let n = 20_000
        let header = (0..<n).map { "c\($0)" }.joined(separator: ",") + ",target\n"
        let row = (0..<n).map { String($0 % 7) }.joined(separator: ",") + ",1\n"
        let d = try CSVDataset(text: header + row, path: "w.csv", label: "target", features: ["c19999", "c3"])
        XCTAssertEqual(d.data.inputs.data, [Float(19_999 % 7), 3])
    }
}
