import CohortCLI
import XCTest

/// How option and positional tokens are split into values.
final class OptionParsingTests: XCTestCase {
    func testSeparateAndInlineValues() throws {
        let a = try SampleTool.run(["simulate", "--rounds", "5", "c.json"])
        let b = try SampleTool.run(["simulate", "--rounds=5", "c.json"])
        XCTAssertEqual(a.givenOptions, ["rounds": ["5"]])
        XCTAssertEqual(a, b)
    }

    func testInlineValueKeepsLaterEqualsSigns() throws {
        let command = try SampleTool.run(["simulate", "--out=a=b.json", "c.json"])
        XCTAssertEqual(try command.string("out"), "a=b.json")
    }

    func testInlineEmptyValueIsAValue() throws {
        XCTAssertEqual(try SampleTool.run(["simulate", "--out=", "c.json"]).string("out"), "")
    }

    func testNegativeNumbersAreValuesAndPositionals() throws {
        let command = try SampleTool.run(["simulate", "--rounds", "-3", "-1.5"])
        XCTAssertEqual(command.givenOptions["rounds"], ["-3"])
        XCTAssertEqual(command.positional("config"), "-1.5")
    }

    func testLoneDashIsPositional() throws {
        XCTAssertEqual(try SampleTool.run(["simulate", "-"]).positional("config"), "-")
    }

    func testOptionsAndPositionalsInAnyOrder() throws {
        let command = try SampleTool.run(["simulate", "c.json", "--verbose", "--lr", "0.1"])
        XCTAssertEqual(command.positional("config"), "c.json")
        XCTAssertTrue(command.flag("verbose"))
        XCTAssertEqual(try command.double("lr"), 0.1)
    }

    func testMultiValuedOptionConsumesUntilNextDoubleDashToken() throws {
        let command = try SampleTool.run(["simulate", "--models", "a.ckpt", "b.ckpt", "--verbose", "c.json"])
        XCTAssertEqual(command.strings("models"), ["a.ckpt", "b.ckpt"])
        XCTAssertTrue(command.flag("verbose"))
        XCTAssertEqual(command.positional("config"), "c.json")
    }

    func testMultiValuedOptionStopsAtDoubleDash() throws {
        let command = try SampleTool.run(["simulate", "--models", "a.ckpt", "--", "c.json"])
        XCTAssertEqual(command.strings("models"), ["a.ckpt"])
        XCTAssertEqual(command.positional("config"), "c.json")
    }

    func testRepeatedMultiValuedOptionAppends() throws {
        let command = try SampleTool.run(["simulate", "c.json", "--models", "a", "b", "--models=c", "--models", "d"])
        XCTAssertEqual(command.strings("models"), ["a", "b", "c", "d"])
    }

    func testDoubleDashMakesEverythingPositional() throws {
        let command = try SampleTool.run(["evaluate", "--", "--data", "--verbose", "x"])
        XCTAssertEqual(command.positional("data"), "--data")
        XCTAssertEqual(command.positionals("checkpoints"), ["--verbose", "x"])
    }

    func testFlagGivenTwiceIsStillTrue() throws {
        XCTAssertTrue(try SampleTool.run(["simulate", "c", "--verbose", "--verbose"]).flag("verbose"))
    }

    func testPositionalsFillInOrderAndVariadicTakesTheRest() throws {
        let command = try SampleTool.run(["evaluate", "test.bin", "a.ckpt", "b.ckpt"])
        XCTAssertEqual(command.positional("data"), "test.bin")
        XCTAssertEqual(command.positionals("checkpoints"), ["a.ckpt", "b.ckpt"])
        XCTAssertEqual(command.positionals("data"), ["test.bin"])
        XCTAssertEqual(command.givenPositionals, ["data": ["test.bin"], "checkpoints": ["a.ckpt", "b.ckpt"]])
    }

    func testOptionalVariadicMayBeEmpty() throws {
        XCTAssertEqual(try SampleTool.run(["bench", "gemm"]).positionals("sizes"), [])
        XCTAssertEqual(try SampleTool.run(["bench", "gemm", "64", "128"]).positionals("sizes"), ["64", "128"])
    }

    func testOptionalPositionalAbsentIsNil() throws {
        let spec = CommandSpec(["show"], summary: "Show.", positionals: [PositionalSpec("what", help: "Thing.", optional: true)])
        let tool = ToolSpec(name: "t", version: "1", summary: "T.", commands: [spec])
        guard case .run(let empty) = try tool.parse(["show"]), case .run(let given) = try tool.parse(["show", "x"]) else {
            return XCTFail("expected runs")
        }
        XCTAssertNil(empty.positional("what"))
        XCTAssertEqual(given.positional("what"), "x")
    }

    func testParsedCommandCanBeBuiltDirectly() throws {
        let command = ParsedCommand(toolName: "cohort", command: SampleTool.benchTrain,
                                    givenOptions: ["threads": ["8"]], givenPositionals: [:])
        XCTAssertEqual(try command.int("threads"), 8)
    }
}
