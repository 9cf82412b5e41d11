import CohortBench
import Foundation

/// `cohort bench train`: training throughput on the PyTorch peer harness's three cases.
enum BenchTrainCommand {
    static let spec = CommandSpec(
        ["bench", "train"], summary: "Training throughput (samples/s) on the MLP, CNN and tabular cases.",
        discussion: """
        Runs the cases of shared/bench/peers/train_throughput.py: forward, softmax cross-entropy, \
        backward and an SGD(lr 0.01, momentum 0.9) step on 8 random in-memory batches. Each case: \
        warm-up, then the median of --repeats timed runs of at least --seconds. Give --peer with \
        that script's JSON output (same sitting, idle machine) to print Cohort ÷ PyTorch ratios.
        """,
        options: [
            OptionSpec("cases", value: "LIST", help: "Comma-separated cases: mlp, cnn, tabular, resnet18, vit-tiny.", default: "mlp,cnn,tabular"),
            OptionSpec("threads", value: "LIST", help: "Comma-separated thread counts (1 or 2).", default: "2,1"),
            OptionSpec("seconds", value: "S", help: "Minimum seconds per timed run.", default: "3"),
            OptionSpec("repeats", value: "N", help: "Timed runs per case; the median is reported.", default: "5"),
            OptionSpec("warmup", value: "S", help: "Warm-up seconds per case.", default: "1"),
            OptionSpec("peer", value: "FILE", help: "JSON from train_throughput.py to compare against."),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
            .flag("json", help: "Print the report as JSON (the default prints a table)."),
            .flag("inference", help: "Time eval-mode forward passes only (compare with scripts/peer_inference_throughput.py)."),
        ])

    struct Output: Codable {
        var bench = "train_throughput"
        var peakResidentBytes: Int?
        var byThreads: [String: TrainBenchmark.Report]
        var peer: PeerComparison?
    }

    static func run(_ command: ParsedCommand) throws {
        let cases = try command.string("cases").split(separator: ",").map(String.init)
        for c in cases where TrainBenchmark.model(for: c) == nil {
            throw UsageError(context: command.context, problem: "unknown case '\(c)' (known: \(TrainBenchmark.caseNames.joined(separator: ", ")))")
        }
        let threads = try parseThreads(command)
        let seconds = try command.double("seconds", range: 0.01...600)
        let repeats = try command.int("repeats", range: 1...100)
        let warmup = try command.double("warmup", range: 0...600)
        var byThreads: [String: TrainBenchmark.Report] = [:]
        for t in threads {
            byThreads[String(t)] = try TrainBenchmark.run(cases: cases, threads: t, seconds: seconds, repeats: repeats,
                                                          warmup: warmup, inference: command.flag("inference"), progress: Terminal.progress)
        }
        var output = Output(byThreads: byThreads)
        if command.flag("inference") { output.bench = "inference_throughput" }
        output.peakResidentBytes = ProcessMemory.peakResidentBytes()
        if command.isSet("peer") {
            let medians = byThreads.mapValues { $0.cases.mapValues(\.samplesPerSecond.median) }
            output.peer = try PeerComparison.load(path: try command.string("peer"), cohort: medians)
        }
        if command.flag("json") || command.isSet("out") {
            try Terminal.emit(try Terminal.json(output), to: command.isSet("out") ? try command.string("out") : nil)
        }
        if !command.flag("json") { print(table(output, cases: cases, threads: threads)) }
    }

    static func parseThreads(_ command: ParsedCommand) throws -> [Int] {
        let raw = try command.string("threads")
        let values = raw.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && (1...2).contains($0!) }) else {
            throw UsageError(context: command.context, problem: "option '--threads' expects a comma-separated list of 1 and 2, got '\(raw)'")
        }
        return values.map { $0! }
    }

    static func table(_ output: Output, cases: [String], threads: [Int]) -> String {
        var lines = ["case      threads  cohort samples/s" + (output.peer == nil ? "" : "  torch samples/s  ratio")]
        for c in cases {
            for t in threads {
                guard let r = output.byThreads[String(t)]?.cases[c] else { continue }
                var line = c.padding(toLength: 10, withPad: " ", startingAt: 0) + String(t).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + String(format: "%16.0f", r.samplesPerSecond.median)
                if let peer = output.peer, let torch = peer.torchSamplesPerSecond[String(t)]?[c] {
                    line += String(format: "  %15.0f  %5.2fx", torch, peer.ratio[String(t)]?[c] ?? 0)
                }
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n")
    }
}
