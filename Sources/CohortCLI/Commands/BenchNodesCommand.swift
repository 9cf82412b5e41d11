import CohortBench
import Foundation

/// `cohort bench nodes`: concurrent nodes through one full round.
enum BenchNodesCommand {
    static let spec = CommandSpec(
        ["bench", "nodes"], summary: "Concurrent nodes one coordinator carries through a full round on loopback.",
        discussion: "Coordinator and nodes share this process (a thread and a TCP connection per node); the open-file limit is raised to its hard limit.",
        options: [
            OptionSpec("nodes", value: "LIST", help: "Comma-separated node counts to try.", default: "100,500,1000"),
            OptionSpec("timeout", value: "S", help: "Seconds allowed for connecting and for the round.", default: "120"),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let raw = try command.string("nodes")
        let counts = raw.split(separator: ",").compactMap { Int($0) }
        guard !counts.isEmpty, counts.allSatisfy({ (1...20_000).contains($0) }) else {
            throw UsageError(context: command.context, problem: "option '--nodes' expects counts 1...20000, got '\(raw)'")
        }
        let timeout = try command.double("timeout", range: 1...3600)
        var results: [ConcurrencyBenchmark.Result] = []
        for n in counts { results.append(try ConcurrencyBenchmark.run(nodes: n, timeout: timeout, progress: Terminal.progress)) }
        try Terminal.emit(try Terminal.json(results), to: command.isSet("out") ? try command.string("out") : nil)
    }
}
