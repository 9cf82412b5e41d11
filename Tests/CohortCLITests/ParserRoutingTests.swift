import CohortCLI
import XCTest

/// Which outcome each kind of command line produces: help, version or a command to run.
final class ParserRoutingTests: XCTestCase {
    private let tool = SampleTool.tool

    private func topic(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String]? {
        guard case .help(let topic, let text) = try tool.parse(arguments) else { return nil }
        XCTAssertEqual(text, tool.helpText(for: topic), "help text for \(topic)", file: file, line: line)
        return topic
    }

    func testNoArgumentsShowsTopLevelHelp() throws {
        XCTAssertEqual(try topic([]), [])
    }

    func testHelpFlagsShowTopLevelHelp() throws {
        XCTAssertEqual(try topic(["--help"]), [])
        XCTAssertEqual(try topic(["-h"]), [])
        XCTAssertEqual(try topic(["help"]), [])
    }

    func testVersion() throws {
        XCTAssertEqual(try tool.parse(["--version"]), .version("cohort 0.3.0"))
        XCTAssertEqual(tool.versionText, "cohort 0.3.0")
    }

    func testGroupHelp() throws {
        XCTAssertEqual(try topic(["bench", "--help"]), ["bench"])
        XCTAssertEqual(try topic(["bench", "-h"]), ["bench"])
        XCTAssertEqual(try topic(["bench"]), ["bench"], "an incomplete command path shows the group's help")
        XCTAssertEqual(try topic(["help", "bench"]), ["bench"])
    }

    func testCommandHelp() throws {
        XCTAssertEqual(try topic(["bench", "train", "--help"]), ["bench", "train"])
        XCTAssertEqual(try topic(["help", "bench", "train"]), ["bench", "train"])
        XCTAssertEqual(try topic(["simulate", "-h"]), ["simulate"])
    }

    func testHelpAnywhereAmongOptionsWins() throws {
        // Even next to a bad value, --help shows help instead of an error.
        XCTAssertEqual(try topic(["simulate", "--rounds", "ten", "--help"]), ["simulate"])
        XCTAssertEqual(try topic(["simulate", "--bogus", "-h"]), ["simulate"])
    }

    func testHelpAfterDoubleDashIsPositional() throws {
        let command = try SampleTool.run(["simulate", "--", "--help"])
        XCTAssertEqual(command.positional("config"), "--help")
    }

    func testRunSelectsCommand() throws {
        XCTAssertEqual(try SampleTool.run(["simulate", "c.json"]).path, ["simulate"])
        XCTAssertEqual(try SampleTool.run(["bench", "train"]).path, ["bench", "train"])
        XCTAssertEqual(try SampleTool.run(["bench", "gemm"]).command, SampleTool.benchGemm)
    }

    func testRunCarriesToolNameAndContext() throws {
        let command = try SampleTool.run(["bench", "train"])
        XCTAssertEqual(command.toolName, "cohort")
        XCTAssertEqual(command.context, "cohort bench train")
    }

    func testToolLookup() {
        XCTAssertEqual(tool.command(at: ["bench", "train"]), SampleTool.benchTrain)
        XCTAssertNil(tool.command(at: ["bench"]))
        XCTAssertTrue(tool.isGroup([]))
        XCTAssertTrue(tool.isGroup(["bench"]))
        XCTAssertFalse(tool.isGroup(["simulate"]))
        XCTAssertEqual(tool.commands(under: ["bench"]).map(\.path), [["bench", "train"], ["bench", "gemm"]])
        XCTAssertNil(tool.helpText(for: ["nope"]))
    }
}
