import CohortCLI
import XCTest

/// The generated help texts, compared in full.
final class HelpTextTests: XCTestCase {
    private let tool = SampleTool.tool

    func testTopLevelHelpListsAllCommands() {
        XCTAssertEqual(tool.helpText(for: []), """
            cohort 0.3.0

            Federated transfer learning on simulated sites.

            USAGE: cohort <command> [<options>]

            COMMANDS:
              simulate     Run a federated simulation.
              bench train  Time training steps.
              bench gemm   Measure GEMM throughput.
              evaluate     Evaluate checkpoints.

            OPTIONS:
              -h, --help   Show help information.
              --version    Show the version.

            Run 'cohort help <command>' or 'cohort <command> --help' for a command's options.

            """)
    }

    func testGroupHelpListsSubcommands() {
        XCTAssertEqual(tool.helpText(for: ["bench"]), """
            USAGE: cohort bench <subcommand> [<options>]

            SUBCOMMANDS:
              train       Time training steps.
              gemm        Measure GEMM throughput.

            OPTIONS:
              -h, --help  Show help information.

            Run 'cohort bench <subcommand> --help' for a subcommand's options.

            """)
    }

    func testCommandHelpShowsOptionsWithDefaults() {
        XCTAssertEqual(tool.helpText(for: ["bench", "train"]), """
            cohort bench train: Time training steps.

            USAGE: cohort bench train [<options>]

            OPTIONS:
              --threads <N>  Worker threads. (default: 2)
              --seconds <S>  Time budget per measurement. (default: 1.5)
              -h, --help     Show help information.

            """)
    }

    func testCommandHelpWithDiscussionPositionalsAndListOptions() {
        XCTAssertEqual(tool.helpText(for: ["simulate"]), """
            cohort simulate: Run a federated simulation.

            Trains a shared model across simulated sites and reports the metrics of every
            round.

            USAGE: cohort simulate [<options>] <config>

            ARGUMENTS:
              <config>             Experiment configuration file.

            OPTIONS:
              --rounds <N>         Number of federated rounds. (default: 10)
              --lr <X>             Learning rate. (default: 0.01)
              --out <path>         Where to write the report.
              --models <ckpt> ...  Checkpoints to start from.
              --sites <N> ...      Site counts to sweep. (default: 4)
              --verbose            Print progress.
              -h, --help           Show help information.

            """)
    }

    func testUsageLineShowsPositionalShapes() {
        XCTAssertTrue(tool.helpText(for: ["evaluate"])!.contains("\nUSAGE: cohort evaluate <data> <checkpoints> ...\n"))
        XCTAssertTrue(tool.helpText(for: ["bench", "gemm"])!.contains("\nUSAGE: cohort bench gemm [<sizes> ...]\n"))
        XCTAssertEqual(PositionalSpec("x", help: "", optional: true).usage, "[<x>]")
        XCTAssertEqual(PositionalSpec("x", help: "").usage, "<x>")
    }

    func testLongHelpWrapsIntoTheTextColumn() {
        let long = "Number of examples drawn per site in every round before the aggregation step combines the updates."
        let spec = CommandSpec(["go"], summary: "Go.", options: [OptionSpec("batch", value: "N", help: long, default: "32")])
        let tool = ToolSpec(name: "t", version: "1", summary: "T.", commands: [spec])
        XCTAssertEqual(tool.helpText(for: ["go"]), """
            t go: Go.

            USAGE: t go [<options>]

            OPTIONS:
              --batch <N>  Number of examples drawn per site in every round before the
                           aggregation step combines the updates. (default: 32)
              -h, --help   Show help information.

            """)
        XCTAssertTrue(tool.helpText(for: ["go"])!.split(separator: "\n").allSatisfy { $0.count <= 80 })
    }

    func testOverlongLabelPutsTextOnNextLine() {
        let spec = CommandSpec(["go"], summary: "Go.", options: [
            OptionSpec("initial-checkpoint-directory", value: "path", help: "Where to start.", repeatable: true),
            .flag("dry", help: "Do nothing."),
        ])
        let tool = ToolSpec(name: "t", version: "1", summary: "T.", commands: [spec])
        XCTAssertEqual(tool.helpText(for: ["go"]), """
            t go: Go.

            USAGE: t go [<options>]

            OPTIONS:
              --initial-checkpoint-directory <path> ...
                                            Where to start.
              --dry                         Do nothing.
              -h, --help                    Show help information.

            """)
    }

    func testLongToolSummaryWraps() {
        let summary = String(repeating: "word ", count: 30)
        let tool = ToolSpec(name: "t", version: "2.0", summary: summary,
                            commands: [CommandSpec(["go"], summary: "Go.")])
        let lines = tool.helpText(for: [])!.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines[0], "t 2.0")
        XCTAssertEqual(lines[2].count, 79, "16 words of 4 letters plus 15 spaces fill the line")
        XCTAssertEqual(lines[3].split(separator: " ").count, 14)
    }
}
