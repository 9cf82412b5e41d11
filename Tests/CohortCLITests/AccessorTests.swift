import CohortCLI
import XCTest

/// Typed accessors of a parsed command: values, defaults and value errors.
final class AccessorTests: XCTestCase {
    private func parse(_ arguments: [String]) throws -> ParsedCommand {
        try SampleTool.run(["simulate", "c.json"] + arguments)
    }

    private func expect(_ message: String, file: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> Void) {
        XCTAssertEqual(SampleTool.message(body), message, file: file, line: line)
    }

    func testDefaultsWhenAbsent() throws {
        let command = try parse([])
        XCTAssertEqual(try command.string("rounds"), "10")
        XCTAssertEqual(try command.int("rounds"), 10)
        XCTAssertEqual(try command.double("lr"), 0.01)
        XCTAssertFalse(command.flag("verbose"))
        XCTAssertEqual(command.strings("models"), [])
        XCTAssertEqual(command.strings("sites"), ["4"])
        XCTAssertEqual(try command.ints("sites"), [4])
        XCTAssertFalse(command.isSet("rounds"), "a default does not count as set")
    }

    func testGivenValuesOverrideDefaults() throws {
        let command = try parse(["--rounds", "3", "--lr=0.5", "--verbose", "--sites", "2", "8", "--out", "r.json"])
        XCTAssertEqual(try command.int("rounds"), 3)
        XCTAssertEqual(try command.double("lr"), 0.5)
        XCTAssertTrue(command.flag("verbose"))
        XCTAssertEqual(try command.ints("sites"), [2, 8])
        XCTAssertEqual(try command.string("out"), "r.json")
        XCTAssertTrue(command.isSet("rounds"))
        XCTAssertTrue(command.isSet("verbose"))
    }

    func testStringsOfSingleValuedOption() throws {
        XCTAssertEqual(try parse(["--rounds", "7"]).strings("rounds"), ["7"])
        XCTAssertEqual(try parse([]).strings("rounds"), ["10"])
        XCTAssertEqual(try parse([]).strings("out"), [])
    }

    func testMissingOptionWithoutDefault() throws {
        let command = try parse([])
        expect("cohort simulate: missing required option '--out'") { _ = try command.string("out") }
    }

    func testIntExpectsInteger() throws {
        let command = try parse(["--rounds", "ten"])
        expect("cohort simulate: option '--rounds' expects an integer, got 'ten'") { _ = try command.int("rounds") }
        expect("cohort simulate: option '--rounds' expects an integer, got '2.5'") {
            _ = try self.parse(["--rounds", "2.5"]).int("rounds")
        }
    }

    func testIntRange() throws {
        XCTAssertEqual(try parse(["--rounds", "5"]).int("rounds", range: 1...100), 5)
        XCTAssertEqual(try parse(["--rounds", "1"]).int("rounds", range: 1...100), 1)
        XCTAssertEqual(try parse(["--rounds", "100"]).int("rounds", range: 1...100), 100)
        expect("cohort simulate: option '--rounds' must be between 1 and 100, got 0") {
            _ = try self.parse(["--rounds", "0"]).int("rounds", range: 1...100)
        }
        expect("cohort simulate: option '--rounds' must be between 1 and 100, got 101") {
            _ = try self.parse(["--rounds", "101"]).int("rounds", range: 1...100)
        }
    }

    func testIntPartialRange() throws {
        XCTAssertEqual(try parse(["--rounds", "1"]).int("rounds", range: 1...), 1)
        expect("cohort simulate: option '--rounds' must be at least 1, got -2") {
            _ = try self.parse(["--rounds", "-2"]).int("rounds", range: 1...)
        }
    }

    func testIntUpperBoundOnly() throws {
        expect("cohort simulate: option '--rounds' must be at most 5, got 6") {
            _ = try self.parse(["--rounds", "6"]).int("rounds", range: Int.min...5)
        }
    }

    func testTypeErrorComesBeforeRangeCheck() throws {
        expect("cohort simulate: option '--rounds' expects an integer, got 'x'") {
            _ = try self.parse(["--rounds", "x"]).int("rounds", range: 1...)
        }
    }

    func testIntsValidatesEveryValue() throws {
        expect("cohort simulate: option '--sites' expects an integer, got 'many'") {
            _ = try self.parse(["--sites", "2", "many"]).ints("sites")
        }
        expect("cohort simulate: option '--sites' must be at least 1, got 0") {
            _ = try self.parse(["--sites", "2", "0"]).ints("sites", range: 1...)
        }
        expect("cohort simulate: option '--sites' must be between 1 and 8, got 9") {
            _ = try self.parse(["--sites", "9"]).ints("sites", range: 1...8)
        }
        XCTAssertEqual(try parse(["--sites", "1", "8"]).ints("sites", range: 1...8), [1, 8])
    }

    func testDoubleExpectsFiniteNumber() throws {
        expect("cohort simulate: option '--lr' expects a number, got 'fast'") {
            _ = try self.parse(["--lr", "fast"]).double("lr")
        }
        expect("cohort simulate: option '--lr' expects a number, got 'nan'") {
            _ = try self.parse(["--lr", "nan"]).double("lr")
        }
        expect("cohort simulate: option '--lr' expects a number, got 'inf'") {
            _ = try self.parse(["--lr=inf"]).double("lr")
        }
        XCTAssertEqual(try parse(["--lr", "1e-3"]).double("lr"), 0.001)
        XCTAssertEqual(try parse(["--lr", "-2"]).double("lr"), -2)
    }

    func testDoubleRange() throws {
        XCTAssertEqual(try parse(["--lr", "0.5"]).double("lr", range: 0...1), 0.5)
        expect("cohort simulate: option '--lr' must be between 0.0 and 1.0, got 1.5") {
            _ = try self.parse(["--lr", "1.5"]).double("lr", range: 0...1)
        }
    }
}
