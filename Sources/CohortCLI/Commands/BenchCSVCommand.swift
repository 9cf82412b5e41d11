import CohortBench
import Foundation

/// `cohort bench csv`: reading a very wide CSV file.
enum BenchCSVCommand {
    static let spec = CommandSpec(
        ["bench", "csv"], summary: "Time reading a wide CSV file (default: a 100,000-column header and 10 rows).",
        discussion: "Reads the generated file with the plain CSV reader and with a schema; prints the median, min and max seconds as JSON.",
        options: [
            OptionSpec("columns", value: "N", help: "Columns in the file (label included).", default: "100000"),
            OptionSpec("rows", value: "N", help: "Data rows.", default: "10"),
            OptionSpec("repeats", value: "N", help: "Timed reads of each kind.", default: "5"),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let report = try CSVHeaderBenchmark.run(columns: try command.int("columns", range: 2...10_000_000),
                                                rows: try command.int("rows", range: 1...1_000_000),
                                                repeats: try command.int("repeats", range: 1...100))
        try Terminal.emit(try Terminal.json(report), to: command.isSet("out") ? try command.string("out") : nil)
    }
}
