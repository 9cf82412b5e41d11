import CohortBench
import Foundation

/// `cohort bench aggregate`: FedAvg throughput through the coordinator's path, and its memory.
enum BenchAggregateCommand {
    static let spec = CommandSpec(
        ["bench", "aggregate"], summary: "FedAvg throughput (GB/s of update input) for K updates of P float32 parameters, or the coordinator's peak memory.",
        discussion: """
        The same case as shared/bench/peers/aggregate_throughput.py (K = 10, P = 10M in 10 arrays of the same sizes): \
        updates encoded as a node sends them, decoded record by record as 1 MiB chunks would arrive, folded from their wire \
        bytes in name order (all K waiting: one pass per tensor; or one at a time), then the new global model. The K updates \
        are made once before timing (K copies in memory, as in the peer harness).

        --memory instead runs one real round: a coordinator in this process, K nodes in a child process sending dense float32 \
        updates of a P-parameter model at once, and reports the peak resident memory as a multiple of the model's size.
        """,
        options: [
            OptionSpec("updates", value: "K", help: "Updates per aggregation.", default: "10"),
            OptionSpec("params", value: "P", help: "Parameters per update.", default: "10000000"),
            OptionSpec("repeats", value: "N", help: "Timed aggregations; the median is reported.", default: "7"),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
            OptionSpec("update-buffer", value: "MB", help: "With --memory: the coordinator's buffer for updates waiting their turn (default: as cohort coordinator, 4)."),
            OptionSpec("play-nodes", value: "HOST:PORT", help: "Internal (used by --memory): act as its K synthetic nodes against HOST:PORT."),
            .flag("json", help: "Print the report as JSON (the default prints a summary)."),
            .flag("memory", help: "Instead: peak RSS of a coordinator carrying K nodes (child process) through one round of a P-parameter model."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let updates = try command.int("updates", range: 1...10_000), params = try command.int("params", range: 10...2_000_000_000)
        let out = command.isSet("out") ? try command.string("out") : nil
        if command.isSet("play-nodes") {
            let (host, port) = try Endpoint.parse(try command.string("play-nodes"), option: "play-nodes", context: command.context)
            let sent = try CoordinatorMemoryBenchmark.playNodes(host: host, port: port, updates: updates, parameters: params)
            Terminal.progress("synthetic nodes: \(sent) of \(updates) sent an update")
            return
        }
        if command.flag("memory") {
            let buffer = command.isSet("update-buffer") ? try command.int("update-buffer", range: 1...1_000_000) << 20 : nil
            let report = try CoordinatorMemoryBenchmark.run(updates: updates, parameters: params, executable: try Executable.path(),
                                                            updateBufferBytes: buffer, progress: Terminal.progress)
            try Terminal.emit(try Terminal.json(report), to: out)
            return
        }
        let report = try AggregationBenchmark.run(updates: updates, parameters: params, repeats: try command.int("repeats", range: 1...1000),
                                                  progress: Terminal.progress)
        if command.flag("json") || out != nil { try Terminal.emit(try Terminal.json(report), to: out) }
        if !command.flag("json") {
            print(String(format: "FedAvg of %d × %d float32: %.1f ms all waiting (%.2f GB/s of input), %.1f ms one at a time (%.2f GB/s), decode %.2f GB/s, max |error| vs double %.2e",
                         report.updates, report.parameters, report.millisecondsBatched.median, report.gigabytesPerSecondBatched,
                         report.millisecondsOneAtATime.median, report.gigabytesPerSecondOneAtATime, report.gigabytesPerSecondDecode,
                         report.maxAbsErrorVsDouble))
        }
    }
}
