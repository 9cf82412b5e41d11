import CohortBench
import Foundation

/// `cohort bench gemm`: GEMM GFLOP/s on 1024³ and the training shapes.
enum BenchGemmCommand {
    static let spec = CommandSpec(
        ["bench", "gemm"], summary: "GEMM GFLOP/s for 1024³ and the shapes training uses, on 1 and 2 threads.",
        options: [
            OptionSpec("threads", value: "LIST", help: "Comma-separated thread counts (1 or 2).", default: "1,2"),
            OptionSpec("seconds", value: "S", help: "Minimum seconds per timed run.", default: "1"),
            OptionSpec("repeats", value: "N", help: "Timed runs per shape; the median is reported.", default: "5"),
            OptionSpec("shapes", value: "LIST", help: "Comma-separated shape-name prefixes to run (r18, vit, mlp, ...); all when unset."),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
            .flag("json", help: "Print the report as JSON (the default prints a table)."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let threads = try BenchTrainCommand.parseThreads(command)
        let prefixes = command.isSet("shapes")
            ? try command.string("shapes").split(separator: ",").map { String($0) }.filter { !$0.isEmpty } : []
        let report = GemmBenchmark.run(threads: threads, seconds: try command.double("seconds", range: 0.01...600),
                                       repeats: try command.int("repeats", range: 1...100), prefixes: prefixes,
                                       progress: Terminal.progress)
        if command.flag("json") || command.isSet("out") {
            try Terminal.emit(try Terminal.json(report), to: command.isSet("out") ? try command.string("out") : nil)
        }
        if !command.flag("json") {
            var lines = ["shape                           threads  GFLOP/s (median)"]
            for c in report.cases {
                lines.append(c.name.padding(toLength: 32, withPad: " ", startingAt: 0) + String(c.threads).padding(toLength: 9, withPad: " ", startingAt: 0)
                             + String(format: "%8.1f", c.gflops.median))
            }
            print(lines.joined(separator: "\n"))
        }
    }
}
