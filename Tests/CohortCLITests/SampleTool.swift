import CohortCLI

/// The tool description shared by the parser tests.
enum SampleTool {
    static let simulate = CommandSpec(
        ["simulate"], summary: "Run a federated simulation.",
        discussion: "Trains a shared model across simulated sites and reports the metrics of every round.",
        options: [
            OptionSpec("rounds", value: "N", help: "Number of federated rounds.", default: "10"),
            OptionSpec("lr", value: "X", help: "Learning rate.", default: "0.01"),
            OptionSpec("out", value: "path", help: "Where to write the report."),
            OptionSpec("models", value: "ckpt", help: "Checkpoints to start from.", repeatable: true),
            OptionSpec("sites", value: "N", help: "Site counts to sweep.", default: "4", repeatable: true),
            .flag("verbose", help: "Print progress."),
        ],
        positionals: [PositionalSpec("config", help: "Experiment configuration file.")])

    static let benchTrain = CommandSpec(
        ["bench", "train"], summary: "Time training steps.",
        options: [
            OptionSpec("threads", value: "N", help: "Worker threads.", default: "2"),
            OptionSpec("seconds", value: "S", help: "Time budget per measurement.", default: "1.5"),
        ])

    static let benchGemm = CommandSpec(
        ["bench", "gemm"], summary: "Measure GEMM throughput.",
        positionals: [PositionalSpec("sizes", help: "Matrix sizes.", variadic: true, optional: true)])

    static let evaluate = CommandSpec(
        ["evaluate"], summary: "Evaluate checkpoints.",
        positionals: [
            PositionalSpec("data", help: "Test data."),
            PositionalSpec("checkpoints", help: "Checkpoints to evaluate.", variadic: true),
        ])

    static let tool = ToolSpec(
        name: "cohort", version: "0.3.0",
        summary: "Federated transfer learning on simulated sites.",
        commands: [simulate, benchTrain, benchGemm, evaluate])

    /// Parses and expects a command to run.
    static func run(_ arguments: [String]) throws -> ParsedCommand {
        guard case .run(let command) = try tool.parse(arguments) else {
            throw UsageError(context: "test", problem: "expected a command to run for \(arguments)")
        }
        return command
    }

    /// The one-line message of the error thrown by `body`, or nil when nothing was thrown.
    static func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as UsageError {
            return error.description
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    /// The message of the usage error raised when parsing `arguments`.
    static func parseError(_ arguments: [String]) -> String? {
        message { _ = try tool.parse(arguments) }
    }
}
