import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTransport
import Foundation

/// `cohort coordinator`: runs federated rounds for the nodes that connect.
enum CoordinatorCommand {
    static let spec = CommandSpec(
        ["coordinator"], summary: "Run the coordinator: hand the model to authenticated nodes and aggregate their deltas round by round.",
        discussion: """
        Nodes dial in (cohort node). Each round: send the global model and plan to every connected node, \
        collect updates until all reply or --round-timeout passes, aggregate if --min-nodes replied, and \
        write OUT/global.ckpt and OUT/rounds.jsonl atomically before the next round. TLS needs --tls-cert \
        and --tls-key; plain TCP needs --insecure.
        """,
        options: [
            OptionSpec("model", value: "FILE", help: "Initial checkpoint (with architecture); not needed with --resume."),
            OptionSpec("plan", value: "FILE", help: "Training plan JSON (defaults for any field left out)."),
            OptionSpec("secrets", value: "FILE", help: "Node secrets: one 'name secret-hex' per line."),
            OptionSpec("listen", value: "HOST:PORT", help: "Address to listen on.", default: "127.0.0.1:7070"),
            OptionSpec("rounds", value: "N", help: "Rounds to run.", default: "3"),
            OptionSpec("min-nodes", value: "N", help: "Nodes to wait for before the first round.", default: "1"),
            OptionSpec("quorum", value: "N", help: "Updates needed to aggregate a round (default: --min-nodes)."),
            OptionSpec("fraction", value: "F", help: "Fraction of connected nodes sampled each round (at least the quorum).", default: "1.0"),
            OptionSpec("round-timeout", value: "S", help: "Seconds to wait for a round's updates.", default: "60"),
            OptionSpec("wait", value: "S", help: "Seconds to wait for --min-nodes to connect.", default: "120"),
            OptionSpec("out", value: "DIR", help: "Where the journal goes."),
            OptionSpec("port-file", value: "FILE", help: "Write the port actually listened on here (for --listen HOST:0)."),
            OptionSpec("tls-cert", value: "FILE", help: "TLS certificate chain (PEM)."),
            OptionSpec("tls-key", value: "FILE", help: "TLS private key (PEM)."),
            .flag("insecure", help: "Allow plain TCP without TLS (loopback testing only)."),
            .flag("no-final-evaluation", help: "Skip sending the final model to the nodes for evaluation (EVALUATE)."),
            .flag("resume", help: "Continue the run journaled in --out after its last completed round."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let (host, port) = try Endpoint.parse(try command.string("listen"), option: "listen", context: command.context)
        var config = Coordinator.Config(outDir: try command.string("out"))
        config.host = host
        config.port = port
        config.rounds = try command.int("rounds", range: 1...100_000)
        config.minNodes = try command.int("min-nodes", range: 1...100_000)
        if command.isSet("quorum") { config.quorum = try command.int("quorum", range: 1...config.minNodes) }
        config.roundTimeout = try command.double("round-timeout", range: 0.1...86_400)
        config.fraction = try command.double("fraction", range: 0.01...1)
        config.waitForNodes = try command.double("wait", range: 0.1...86_400)
        if command.isSet("port-file") { config.portFile = try command.string("port-file") }
        config.finalEvaluation = !command.flag("no-final-evaluation")
        let secretsPath = try command.string("secrets")
        guard let secretsText = try? String(contentsOfFile: secretsPath, encoding: .utf8) else { throw CommandError("cannot read secrets file '\(secretsPath)'") }
        config.secrets = try NodeSecrets.parseSecretsFile(secretsText, path: secretsPath)
        config.tls = try tlsServer(command)
        if command.isSet("plan") {
            let planPath = try command.string("plan")
            guard let data = FileManager.default.contents(atPath: planPath) else { throw CommandError("cannot read plan '\(planPath)'") }
            do { config.plan = try JSONDecoder().decode(TrainingPlan.self, from: data) } catch {
                throw CommandError("\(planPath): not a training plan: \(error)")
            }
        }
        var initial: Checkpoint
        var completed: [Coordinator.RoundRecord] = []
        if command.flag("resume") {
            guard !["fedadam", "fedyogi", "fedadagrad"].contains(config.plan.strategy) else {
                throw CommandError("--resume does not support '\(config.plan.strategy)' yet: its server moments are not journaled")
            }
            (initial, completed) = try Coordinator.loadJournal(outDir: config.outDir)
            Terminal.progress("coordinator: resuming from \(config.outDir) after round \(completed.count)")
        } else {
            initial = try CheckpointFile.load(try command.string("model"))
        }
        guard let arch = initial.architecture else { throw CommandError("the model checkpoint has no architecture") }
        let strategy = try StrategyFactory.make(config.plan, model: try Sequential(spec: arch, seed: 0))
        let coordinator = try Coordinator(config: config, initial: initial, strategy: strategy, completed: completed)
        let records = try coordinator.run { Terminal.progress($0) }
        Terminal.progress("coordinator: \(records.count) rounds complete; journal in \(config.outDir)")
    }

    static func tlsServer(_ command: ParsedCommand) throws -> TLSContext? {
        if command.isSet("tls-cert") || command.isSet("tls-key") {
            return try TLSContext.server(certificate: try command.string("tls-cert"), privateKey: try command.string("tls-key"))
        }
        guard command.flag("insecure") else {
            throw UsageError(context: command.context, problem: "give --tls-cert and --tls-key (scripts/make-certs.sh makes them), or --insecure for plain TCP")
        }
        Terminal.error("warning: plain TCP without TLS (--insecure): updates and secrets' proofs are visible on the network")
        return nil
    }
}
