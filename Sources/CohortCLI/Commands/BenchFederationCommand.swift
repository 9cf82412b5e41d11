import CohortBench
import Foundation

/// `cohort bench federation`: every federation figure, beside its peer, against the floors.
enum BenchFederationCommand {
    static let spec = CommandSpec(
        ["bench", "federation"], summary: "Federation figures in one sitting, beside Flower and numpy, with the floors met or not.",
        discussion: """
        Runs, one after another: (1) round overhead with a coordinator and --clients node processes (logistic regression \
        13 -> 2, 50 samples each, --rounds rounds) and the time from launch to the end of round 1, then Flower's harness \
        (flower_round_overhead.py); (2) aggregation throughput, 10 x 10M float32 (as cohort bench aggregate), then numpy and \
        Flower (aggregate_throughput.py, 2 threads); (3) peak coordinator memory aggregating 50 updates of a 10M-parameter \
        model (as cohort bench aggregate --memory); (4) the most concurrent nodes carried through a full round (500, 1000, \
        2000, as cohort bench nodes). Prints one JSON document with every figure and each floor (round overhead <= 0.02 s, \
        round 1 <= 2 s, aggregation >= 10 GB/s, peak RSS <= 3x the model, >= 500 nodes) met or not, computed from the run. \
        The peers run when --python can import them; otherwise they are skipped and the document says why. Takes about \
        5 minutes; run it on an idle machine.
        """,
        options: [
            OptionSpec("python", value: "PATH", help: "The peer virtualenv's Python.", default: "~/.cache/cohort-peer-venv/bin/python"),
            OptionSpec("peers", value: "DIR", help: "The peer harness folder.", default: "../shared/bench/peers"),
            OptionSpec("clients", value: "N", help: "Node processes for the round overhead.", default: "10"),
            OptionSpec("rounds", value: "N", help: "Rounds for the round overhead.", default: "20"),
            OptionSpec("work", value: "DIR", help: "Where runs and peer logs go.", default: "runs/bench-federation"),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
            .flag("no-peers", help: "Skip the peer harnesses."),
            .flag("json", help: "Print only the JSON report (the default also prints the floors)."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let python = NSString(string: try command.string("python")).expandingTildeInPath
        var options = FederationBenchmark.Options(executable: try Executable.path(), workDir: try command.string("work"),
                                                  peers: command.flag("no-peers") ? nil : PeerHarness(python: python, directory: try command.string("peers")))
        options.clients = try command.int("clients", range: 1...1000)
        options.rounds = try command.int("rounds", range: 2...10_000)
        let report = try FederationBenchmark.run(options, progress: Terminal.progress)
        try Terminal.emit(try Terminal.json(report), to: command.isSet("out") ? try command.string("out") : nil)
        if !command.flag("json") {
            for f in report.floors {
                let verdict = f.met.map { $0 ? "MET" : "NOT MET" } ?? "NOT MEASURED"
                Terminal.progress("\(verdict): \(f.name): \(f.measured.map { String(format: "%.4g", $0) } ?? "-") \(f.unit), \(f.rule) \(f.limit)"
                                  + (f.shortBy.map { " (\($0))" } ?? ""))
            }
        }
    }
}
