import CohortCLI
import XCTest

/// The exact one-line message of every usage error the parser raises.
final class ParserErrorTests: XCTestCase {
    private func expect(_ arguments: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(SampleTool.parseError(arguments), message, "arguments \(arguments)", file: file, line: line)
    }

    func testErrorShapeAndExitCode() {
        let error = UsageError(context: "cohort simulate", problem: "option '--rounds' needs a value")
        XCTAssertEqual(error.description, "cohort simulate: option '--rounds' needs a value")
        XCTAssertEqual(error.exitCode, 2)
        XCTAssertEqual(UsageError.usageExitCode, 2)
        XCTAssertFalse(error.description.contains("\n"))
        XCTAssertEqual("\(error)", error.description)
    }

    func testThrownErrorIsUsageErrorWithExitCodeTwo() {
        XCTAssertThrowsError(try SampleTool.tool.parse(["simulat"])) { error in
            XCTAssertEqual((error as? UsageError)?.exitCode, 2)
            XCTAssertEqual((error as? UsageError)?.context, "cohort")
        }
    }

    func testUnknownTopLevelCommand() {
        expect(["simulat"], "cohort: unknown command 'simulat' (run 'cohort --help')")
    }

    func testUnknownSubcommand() {
        expect(["bench", "trian"], "cohort bench: unknown command 'trian' (run 'cohort bench --help')")
    }

    func testUnknownHelpTopic() {
        expect(["help", "bench", "nope"], "cohort help: unknown command 'bench nope' (run 'cohort --help')")
    }

    func testUnknownTopLevelOption() {
        expect(["--rounds", "3"], "cohort: unknown option '--rounds' (run 'cohort --help')")
        expect(["--rounds=3"], "cohort: unknown option '--rounds' (run 'cohort --help')")
    }

    func testOptionBeforeSubcommand() {
        expect(["bench", "--threads", "2", "train"], "cohort bench: unknown option '--threads' (run 'cohort bench --help')")
    }

    func testVersionOnlyAtTopLevel() {
        expect(["simulate", "--version"], "cohort simulate: unknown option '--version' (run 'cohort simulate --help')")
    }

    func testUnknownOptionWithSuggestion() {
        expect(["bench", "train", "--thread", "4"], "cohort bench train: unknown option '--thread' (did you mean '--threads'?)")
        expect(["bench", "train", "--thread=4"], "cohort bench train: unknown option '--thread' (did you mean '--threads'?)")
        expect(["simulate", "--rouns", "3"], "cohort simulate: unknown option '--rouns' (did you mean '--rounds'?)")
        expect(["simulate", "--verbos"], "cohort simulate: unknown option '--verbos' (did you mean '--verbose'?)")
        expect(["simulate", "--hlep"], "cohort simulate: unknown option '--hlep' (did you mean '--help'?)")
    }

    func testSuggestionForUniquePrefix() {
        expect(["bench", "train", "--sec", "2"], "cohort bench train: unknown option '--sec' (did you mean '--seconds'?)")
    }

    func testSingleDashLongOptionSuggestsDoubleDash() {
        expect(["simulate", "-rounds", "3"], "cohort simulate: unknown option '-rounds' (did you mean '--rounds'?)")
    }

    func testUnknownOptionWithoutSuggestion() {
        expect(["simulate", "--frobnicate"], "cohort simulate: unknown option '--frobnicate' (run 'cohort simulate --help')")
        expect(["simulate", "-x"], "cohort simulate: unknown option '-x' (run 'cohort simulate --help')")
    }

    func testOptionNeedsValueAtEnd() {
        expect(["simulate", "c.json", "--rounds"], "cohort simulate: option '--rounds' needs a value")
    }

    func testOptionNeedsValueBeforeAnotherOption() {
        expect(["simulate", "--rounds", "--verbose", "c.json"], "cohort simulate: option '--rounds' needs a value")
    }

    func testMultiValuedOptionNeedsAValue() {
        expect(["simulate", "c.json", "--models"], "cohort simulate: option '--models' needs a value")
        expect(["simulate", "c.json", "--models", "--verbose"], "cohort simulate: option '--models' needs a value")
    }

    func testFlagGivenAValue() {
        expect(["simulate", "c.json", "--verbose=yes"], "cohort simulate: flag '--verbose' takes no value, got 'yes'")
        expect(["simulate", "c.json", "--help=yes"], "cohort simulate: flag '--help' takes no value, got 'yes'")
    }

    func testSingleValuedOptionGivenTwice() {
        expect(["simulate", "c.json", "--rounds", "1", "--rounds=2"], "cohort simulate: option '--rounds' was given more than once")
    }

    func testMissingRequiredPositional() {
        expect(["simulate"], "cohort simulate: missing required argument '<config>'")
        expect(["simulate", "--rounds", "3"], "cohort simulate: missing required argument '<config>'")
    }

    func testMissingRequiredVariadicPositional() {
        expect(["evaluate", "test.bin"], "cohort evaluate: missing required argument '<checkpoints>'")
    }

    func testUnexpectedPositional() {
        expect(["simulate", "a.json", "b.json"], "cohort simulate: unexpected argument 'b.json'")
        expect(["bench", "train", "extra"], "cohort bench train: unexpected argument 'extra'")
    }
}
