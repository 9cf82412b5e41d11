import CohortBench
import Foundation

/// `cohort bench large-model`: per-stage seconds, round time and peak memory of a large model's round.
enum BenchLargeModelCommand {
    static let spec = CommandSpec(
        ["bench", "large-model"], summary: "Where a large model's round goes: per-stage seconds, round time, each process's peak RSS.",
        discussion: """
        A model of one dense layer 1000 → U and a 10-class head (about P parameters). Stages are timed in this process with \
        the calls each role makes (architecture build, checkpoint write with and without early writeback and past the page cache (O_DIRECT) with its fsync share, \
        read and CRC-32C check, model digest, MODEL encode and decode, delta encode, UPDATE decode-check-fold, journal write, \
        export). Then a real run: cohort model init, a coordinator (timed to listening) and two nodes on 127.0.0.1 (plain TCP, \
        or TLS 1.3 with --tls; FedAvg, one round, three batches of 32 per node), the round's seconds from the journal and each \
        process's peak resident memory. Needs about 15× the model's size in free memory for the real run.
        """,
        options: [
            OptionSpec("params", value: "P", help: "Parameters of the model.", default: "300000000"),
            OptionSpec("work", value: "DIR", help: "Working directory (files and logs are kept).", default: "runs/bench-large-model"),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
            .flag("stages-only", help: "Skip the real run (processes)."),
            .flag("tls", help: "Run the real round over TLS 1.3 (a private CA and certificate made with openssl in the work directory)."),
            OptionSpec("trainable", value: "PREFIX,…", help: "The plan's trainablePrefixes for the real run (default: the whole model trains); e.g. head,wide.bias keeps a model too large to train whole within memory."),
            .flag("reference", help: "Nodes save their trained tensors (cohort node --save-trained) and the final global model is compared bit for bit with their FedAvg computed in this process."),
            .flag("no-stages", help: "Skip the in-process stages (the real run only)."),
            OptionSpec("rounds", value: "N", help: "Rounds of the real run: the first is cold (every buffer is new memory), later ones reuse the processes' buffers; each round's seconds and node stages are reported.", default: "1"),
            .flag("global-in-memory", help: "The nodes keep the received global model in memory (cohort node --global-in-memory) instead of in a temporary file in the work directory."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let params = try command.int("params", range: 1_000...4_000_000_000)
        let out = command.isSet("out") ? try command.string("out") : nil
        let rounds = try command.int("rounds", range: 1...20)
        if rounds > 1 && command.flag("reference") {
            throw UsageError(context: command.context, problem: "--reference checks a single round's aggregate: use it with --rounds 1")
        }
        let report = try LargeModelBenchmark.run(params: params, executable: try Executable.path(), dir: try command.string("work"),
                                                 realRun: !command.flag("stages-only"), tls: command.flag("tls"),
                                                 node: .init(trainablePrefixes: command.isSet("trainable")
                                                                 ? try command.string("trainable").split(separator: ",").map(String.init) : nil,
                                                             reference: command.flag("reference"), skipStages: command.flag("no-stages"),
                                                             rounds: rounds, globalInMemory: command.flag("global-in-memory")),
                                                 progress: Terminal.progress)
        try Terminal.emit(try Terminal.json(report), to: out)
    }
}
