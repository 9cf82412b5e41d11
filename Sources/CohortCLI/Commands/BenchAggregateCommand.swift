import CohortBench
import Foundation

/// `cohort bench aggregate`: streaming FedAvg throughput and memory.
enum BenchAggregateCommand {
    static let spec = CommandSpec(
        ["bench", "aggregate"], summary: "Streaming FedAvg throughput (GB/s of update input) for K updates of P float32 parameters.",
        discussion: """
        The same case as shared/bench/peers/aggregate_throughput.py (K = 10, P = 10M in 10 tensors): \
        sample-weighted FedAvg, each update folded into a running sum. Times exclude making the \
        updates (they are built once, K copies in memory); the peak RSS therefore includes them.
        """,
        options: [
            OptionSpec("updates", value: "K", help: "Updates per aggregation.", default: "10"),
            OptionSpec("params", value: "P", help: "Parameters per update.", default: "10000000"),
            OptionSpec("repeats", value: "N", help: "Timed aggregations; the median is reported.", default: "7"),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
            .flag("json", help: "Print the report as JSON (the default prints a summary)."),
            .flag("memory", help: "Instead: peak RSS while folding --updates updates made one at a time (as a coordinator receives them)."),
        ])

    struct MemoryReport: Codable {
        var bench = "aggregate_streaming_memory"
        var updates: Int
        var parameters: Int
        var peakResidentBytes: Int
        var peakResidentModels: Double
        var baselineResidentBytes: Int
        var peakAboveBaselineModels: Double
    }

    static func run(_ command: ParsedCommand) throws {
        if command.flag("memory") {
            let updates = try command.int("updates", range: 1...10_000), params = try command.int("params", range: 10...2_000_000_000)
            let (bytes, models, baseline) = try AggregationBenchmark.streamingMemory(updates: updates, parameters: params, progress: Terminal.progress)
            let report = MemoryReport(updates: updates, parameters: params / 10 * 10, peakResidentBytes: bytes, peakResidentModels: models,
                                      baselineResidentBytes: baseline, peakAboveBaselineModels: Double(bytes - baseline) / Double(params / 10 * 10 * 4))
            try Terminal.emit(try Terminal.json(report), to: command.isSet("out") ? try command.string("out") : nil)
            return
        }
        let report = try AggregationBenchmark.run(updates: try command.int("updates", range: 1...10_000),
                                                  parameters: try command.int("params", range: 10...2_000_000_000),
                                                  repeats: try command.int("repeats", range: 1...1000), progress: Terminal.progress)
        if command.flag("json") || command.isSet("out") {
            try Terminal.emit(try Terminal.json(report), to: command.isSet("out") ? try command.string("out") : nil)
        }
        if !command.flag("json") {
            print(String(format: "FedAvg of %d × %d float32: %.1f ms median (%.2f GB/s of input), max |error| vs double %.2e, peak RSS %.0f MB",
                         report.updates, report.parameters, report.millisecondsPerAggregation.median, report.gigabytesPerSecond,
                         report.maxAbsErrorVsDouble, Double(report.peakResidentBytes) / 1e6))
        }
    }
}
