import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
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
        and --tls-key; plain TCP needs --insecure. A node that answered an earlier round gets only the \
        tensors whose bits changed since the version it holds (with the whole model's SHA-256, which it checks); \
        a new or reconnected node gets the whole model, and so does every node with --full-models.

        Central user-level DP (DP-FedAvg, protocols/privacy.md): --dp-clip, --dp-noise, --dp-epsilon and \
        --dp-delta set or override the plan's privacy section. Nodes clip their whole update to L2 norm C; \
        the coordinator averages with equal weights over the sampled nodes and adds N(0, (σC)²) to the sum. \
        With --dp-epsilon and no --dp-noise, σ is chosen so the planned --rounds fit the budget; with both, \
        the run stops (exit status 0) before a round that would exceed the budget. ε after each round is \
        logged and written to rounds.jsonl. Not compatible with top-k codecs or robust/server-optimizer strategies. \
        --dp-mode distributed (with --secure-aggregation) has every node add its share of the noise instead, \
        so the coordinator never sees an un-noised sum.

        Poisson sampling (central DP): --dp-sample-rate Q has every node of the secrets file (N of them) take part \
        in a round independently with probability Q, drawn from the CSPRNG; the mean is divided by Q·N whoever \
        arrived, every round is released (with nobody sampled, a noise-only step), σ is chosen and ε accounted \
        with Q. Without it, private rounds use --fraction and are accounted with q = 1. --dp-adaptive-clip GAMMA \
        starts C at --dp-clip and moves it each round toward the GAMMA quantile of the nodes' update norms from a \
        noised count of their clipping bits (the plan's privacy.adaptiveClipping sets η and σ_b); C is sent in the \
        plan, journaled and resumed; under --secure-aggregation each node's bit is one more masked word. \
        --dp-sample-rate is not available with --secure-aggregation yet.

        Secure aggregation (protocols/secure-aggregation.md): --secure-aggregation (or the plan's \
        secureAggregation section) masks every update so the coordinator learns only their sum; nodes clip \
        their update to --secagg-clip (or --dp-clip under DP) and encode it in fixed point. A round survives \
        nodes dropping out as long as --secagg-threshold of them remain (default: a majority); with fewer \
        before the survivors are announced it is abandoned, nothing is unmasked, and it is retried. Announcing \
        the survivors is the release point: the round is journaled and accounted first, and if unmasking then \
        fails it ends unapplied and the run goes on with the next round. Needs strategy fedavg, fedprox or \
        fedbn and the default codec (no top-k, quantisation or zlib).
        """,
        options: [
            OptionSpec("model", value: "FILE", help: "Initial checkpoint (with architecture); not needed with --resume."),
            OptionSpec("plan", value: "FILE", help: "Training plan JSON (defaults for any field left out)."),
            OptionSpec("lora-rank", value: "R", help: "Federate LoRA factors of rank R instead of whole weights (sets the plan's lora)."),
            OptionSpec("lora-alpha", value: "A", help: "LoRA scale α (the update is α/r·B·A; default α = r)."),
            OptionSpec("lora-targets", value: "LIST", help: "Comma-separated node-name patterns LoRA adapts, e.g. 'layer*.conv*,fc' (with --lora-rank)."),
            OptionSpec("secrets", value: "FILE", help: "Node secrets: one 'name secret-hex [expected-samples]' per line."),
            OptionSpec("listen", value: "HOST:PORT", help: "Address to listen on.", default: "127.0.0.1:7070"),
            OptionSpec("rounds", value: "N", help: "Rounds to run.", default: "3"),
            OptionSpec("min-nodes", value: "N", help: "Nodes to wait for before the first round.", default: "1"),
            OptionSpec("quorum", value: "N", help: "Updates needed to aggregate a round (default: --min-nodes)."),
            OptionSpec("fraction", value: "F", help: "Fraction of connected nodes sampled each round (at least the quorum); private rounds are then accounted with q = 1 (see --dp-sample-rate).", default: "1.0"),
            OptionSpec("round-timeout", value: "S", help: "Seconds to wait for a round's updates.", default: "60"),
            OptionSpec("wait", value: "S", help: "Seconds to wait for --min-nodes to connect.", default: "120"),
            OptionSpec("out", value: "DIR", help: "Where the journal goes."),
            OptionSpec("update-buffer", value: "MB", help: "Memory for updates that arrive before their turn to be aggregated (name order); more lets fast nodes finish sending sooner.", default: "4"),
            OptionSpec("port-file", value: "FILE", help: "Write the port actually listened on here (for --listen HOST:0)."),
            OptionSpec("tls-cert", value: "FILE", help: "TLS certificate chain (PEM)."),
            OptionSpec("tls-key", value: "FILE", help: "TLS private key (PEM)."),
            OptionSpec("dp-epsilon", value: "E", help: "Privacy budget ε: choose σ for the planned rounds (unless --dp-noise) and stop before exceeding it."),
            OptionSpec("dp-delta", value: "D", help: "δ of the (ε, δ) guarantee (plan default 1e-5)."),
            OptionSpec("dp-clip", value: "C", help: "L2 norm every node's whole update is clipped to (plan default 1)."),
            OptionSpec("dp-noise", value: "SIGMA", help: "Noise multiplier σ: noise σ·C on the sum of clipped updates."),
            OptionSpec("dp-mode", value: "MODE", help: "central (the coordinator adds the noise) or distributed (every node adds its share; needs --secure-aggregation)."),
            OptionSpec("dp-sample-rate", value: "Q", help: "Poisson sampling: every node of the secrets file takes part in a round with probability Q; the mean is divided by Q·N and ε accounted with Q (replaces --fraction; central DP only)."),
            OptionSpec("dp-adaptive-clip", value: "GAMMA", help: "Adaptive clipping: C starts at --dp-clip and follows the GAMMA quantile of the update norms (η and σ_b from the plan's privacy.adaptiveClipping)."),
            .flag("secure-aggregation", help: "Mask every update (Bonawitz et al. 2017): the coordinator learns only their sum."),
            OptionSpec("secagg-threshold", value: "T", help: "Secure aggregation: nodes that must remain at every step (default: a majority of the round's; one that is not a majority, t ≤ n/2, is refused unless the plan sets secureAggregation.allowMinorityThreshold)."),
            OptionSpec("secagg-clip", value: "C", help: "Secure aggregation without DP: L2 norm updates are clipped to before fixed-point encoding (plan default 10)."),
            OptionSpec("test-dump-secagg", value: "DIR", help: "Testing only (needs --insecure): write every masked vector received and every unmasked sum to DIR."),
            OptionSpec("test-noise-seed", value: "S", help: "Testing only (needs --insecure, a loopback --listen, no TLS; marks every round record testNoiseSeeded): draw the DP noise, the Poisson sample and the clipping count's noise from streams seeded by S and the round, so runs and resumes are reproducible (anyone who knows S can remove the noise)."),
            .flag("insecure", help: "Allow plain TCP without TLS (loopback testing only)."),
            .flag("full-models", help: "Send every node the whole model each round, never only the tensors changed since its last version."),
            .flag("no-final-evaluation", help: "Skip sending the final model to the nodes for evaluation (EVALUATE)."),
            .flag("resume", help: "Continue the run journaled in --out after its last completed round."),
        ] + CoordinatorMetricsOptions.options)

    static func run(_ command: ParsedCommand) throws {
        HeapTuning.returnLargeBlocks()
        try TestingFlags.check(command, ["test-dump-secagg", "test-noise-seed"])
        let (host, port) = try Endpoint.parse(try command.string("listen"), option: "listen", context: command.context)
        if command.isSet("test-noise-seed") {
            // Anyone who knows the seed can subtract the noise: only on loopback, never with TLS.
            guard !command.isSet("tls-cert") && !command.isSet("tls-key") else {
                throw UsageError(context: command.context, problem: "--test-noise-seed cannot be combined with TLS (--tls-cert/--tls-key): it is for loopback tests only")
            }
            guard isLoopback(host) else {
                throw UsageError(context: command.context, problem: "--test-noise-seed needs a loopback --listen address (127.0.0.0/8 or ::1), got '\(host)'")
            }
        }
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
        config.fullModels = command.flag("full-models")
        config.updateBufferBytes = try command.int("update-buffer", range: 1...1_000_000) << 20
        let secretsPath = try command.string("secrets")
        let secretsText: String
        do { secretsText = try LocalFile.text(secretsPath, what: "secrets file", secret: true) } catch { throw CommandError("\(error)") }
        (config.secrets, config.expectedSamples) = try NodeSecrets.parseSecretsFileEntries(secretsText, path: secretsPath)
        config.tls = try tlsServer(command)
        if command.isSet("plan") {
            let planPath = try command.string("plan")
            let data: Data
            do { data = Data(try LocalFile.read(planPath, what: "plan")) } catch { throw CommandError("\(error)") }
            do { config.plan = try JSONDecoder().decode(TrainingPlan.self, from: data) } catch {
                throw CommandError("\(planPath): not a training plan: \(error)")
            }
        }
        if command.isSet("lora-rank") || command.isSet("lora-targets") || command.isSet("lora-alpha") {
            guard command.isSet("lora-rank") && command.isSet("lora-targets") else {
                throw UsageError(context: command.context, problem: "--lora-rank and --lora-targets go together")
            }
            let targets = try command.string("lora-targets").split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
            config.plan.lora = LoRASpec(rank: try command.int("lora-rank", range: 1...LoRASpec.maxRank),
                                        alpha: command.isSet("lora-alpha") ? Float(try command.double("lora-alpha", range: 1e-6...1e6)) : nil,
                                        targets: targets)
        }
        try applySecureAggregationFlags(command, to: &config.plan)
        try applyPrivacyFlags(command, to: &config.plan)
        if command.isSet("test-dump-secagg") { config.secureAggregationDump = try command.string("test-dump-secagg") }
        if command.isSet("test-noise-seed") { config.noiseSeed = UInt64(try command.int("test-noise-seed", range: 0...Int.max)) }
        if config.plan.privacy?.sampleRate != nil, config.fraction < 1 {
            throw UsageError(context: command.context, problem: "--fraction cannot be combined with Poisson sampling (--dp-sample-rate or the plan's privacy.sampleRate)")
        }
        var initial: Checkpoint
        var completed: [Coordinator.RoundRecord] = []
        if command.flag("resume") {
            (initial, completed) = try Coordinator.loadJournal(outDir: config.outDir)
            Terminal.progress("coordinator: resuming from \(config.outDir) after round \(completed.count)")
        } else {
            let modelPath = try command.string("model")
            initial = try CheckpointFile.load(modelPath)
            if let lora = config.plan.lora { initial = try initial.addingLoRA(lora, seed: config.plan.seed, path: modelPath) }
        }
        guard let arch = initial.architecture else { throw CommandError("the model checkpoint has no architecture") }
        // Under privacy the coordinator swaps in the DP-FedAvg wrapper once σ is known.
        // Built only when the strategy needs tensor names (FedBN, privacy), and dropped at once.
        let strategy = config.plan.privacy == nil ? try StrategyFactory.make(config.plan, model: try Sequential(spec: arch, seed: 0))
            : try StrategyFactory.base(config.plan, model: try Sequential(spec: arch, seed: 0))
        try CoordinatorMetricsOptions.start(command, config: &config, completed: completed)
        // The initial weights become the coordinator's first global model: this binding must not
        // keep them alive through the run (a large model's old version held beside the new ones).
        let coordinator = try Coordinator(config: config, initial: consume initial, strategy: strategy, completed: completed)
        let records = try coordinator.run { Terminal.progress($0) }
        Terminal.progress("coordinator: \(records.count) rounds complete; journal in \(config.outDir)")
    }

    /// Whether `host` is a literal loopback address: IPv4 in 127.0.0.0/8 or IPv6 ::1 (names such
    /// as "localhost" are refused: what they resolve to is not checked here).
    static func isLoopback(_ host: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, bare, &v6) == 1 else { return false }
        return withUnsafeBytes(of: &v6) { raw in raw.prefix(15).allSatisfy { $0 == 0 } && raw[15] == 1 }
    }

    /// Sets or overrides the plan's privacy section from the --dp-* flags; errors name the flag.
    static func applyPrivacyFlags(_ command: ParsedCommand, to plan: inout TrainingPlan) throws {
        let flags = ["dp-epsilon", "dp-delta", "dp-clip", "dp-noise", "dp-mode", "dp-sample-rate", "dp-adaptive-clip"]
        guard flags.contains(where: command.isSet) else { return }
        var privacy = plan.privacy ?? PrivacyPlan()
        if command.isSet("dp-epsilon") { privacy.targetEpsilon = try command.double("dp-epsilon", range: 1e-6...1e6) }
        if command.isSet("dp-delta") {
            let d = try command.double("dp-delta", range: 0...1)
            guard d > 0 && d < 1 else { throw UsageError(context: command.context, problem: "--dp-delta must be in (0, 1), got \(d)") }
            privacy.delta = d
        }
        if command.isSet("dp-clip") { privacy.clipNorm = try command.double("dp-clip", range: 1e-9...1e9) }
        if command.isSet("dp-noise") { privacy.noiseMultiplier = try command.double("dp-noise", range: 1e-6...1e6) }
        if command.isSet("dp-mode") {
            let text = try command.string("dp-mode")
            guard let mode = PrivacyPlan.Mode(rawValue: text) else {
                throw UsageError(context: command.context, problem: "--dp-mode must be central or distributed, got '\(text)'")
            }
            guard mode == .central || plan.secureAggregation != nil else {
                throw UsageError(context: command.context, problem: "--dp-mode distributed needs --secure-aggregation (or the plan's secureAggregation section)")
            }
            privacy.mode = mode
        }
        if command.isSet("dp-sample-rate") {
            let q = try command.double("dp-sample-rate", range: 0...1)
            guard q > 0 else { throw UsageError(context: command.context, problem: "--dp-sample-rate must be in (0, 1], got \(q)") }
            privacy.sampleRate = q
        }
        if command.isSet("dp-adaptive-clip") {
            var adaptive = privacy.adaptiveClipping ?? AdaptiveClippingPlan()
            adaptive.targetQuantile = try command.double("dp-adaptive-clip", range: 0...1)
            privacy.adaptiveClipping = adaptive
        }
        guard privacy.noiseMultiplier != nil || privacy.targetEpsilon != nil else {
            throw UsageError(context: command.context, problem: "differential privacy needs --dp-epsilon (σ chosen for the budget) or --dp-noise (σ given)")
        }
        if plan.codec.topKFraction != nil {
            throw UsageError(context: command.context, problem: "--dp-* cannot be combined with the plan's top-k codec (codec.topKFraction): "
                             + "unsent mass carried by error feedback would escape the clip bound; use int8/float16/zlib only")
        }
        guard TrainingPlan.privateStrategies.contains(plan.strategy) else {
            throw UsageError(context: command.context, problem: "--dp-* needs strategy \(TrainingPlan.privateStrategies.joined(separator: ", ")) "
                             + "(equal-weight averaging); the plan says '\(plan.strategy)'")
        }
        plan.privacy = privacy
        do { try plan.validate() } catch { throw UsageError(context: command.context, problem: "--dp-*: \(error)") }
    }

    /// Sets or overrides the plan's secureAggregation section from --secure-aggregation and
    /// --secagg-*; errors name the flag.
    static func applySecureAggregationFlags(_ command: ParsedCommand, to plan: inout TrainingPlan) throws {
        let flags = ["secagg-threshold", "secagg-clip"]
        guard command.flag("secure-aggregation") || flags.contains(where: command.isSet) else { return }
        guard command.flag("secure-aggregation") || plan.secureAggregation != nil else {
            throw UsageError(context: command.context, problem: "--secagg-threshold and --secagg-clip need --secure-aggregation (or the plan's secureAggregation section)")
        }
        var secure = plan.secureAggregation ?? SecureAggregationPlan()
        if command.isSet("secagg-threshold") { secure.threshold = try command.int("secagg-threshold", range: 2...100_000) }
        if command.isSet("secagg-clip") { secure.clipNorm = try command.double("secagg-clip", range: 1e-9...1e9) }
        plan.secureAggregation = secure
        do { try plan.validate() } catch { throw UsageError(context: command.context, problem: "--secure-aggregation: \(error)") }
    }

    static func tlsServer(_ command: ParsedCommand) throws -> TLSContext? {
        if command.isSet("tls-cert") || command.isSet("tls-key") {
            let certificate = try command.string("tls-cert"), key = try command.string("tls-key")
            do {
                try LocalFile.check(certificate, what: "TLS certificate")
                try LocalFile.check(key, what: "TLS private key", secret: true)
            } catch { throw CommandError("\(error)") }
            return try TLSContext.server(certificate: certificate, privateKey: key)
        }
        guard command.flag("insecure") else {
            throw UsageError(context: command.context, problem: "give --tls-cert and --tls-key (scripts/make-certs.sh makes them), or --insecure for plain TCP")
        }
        Terminal.error("warning: plain TCP without TLS (--insecure): updates and secrets' proofs are visible on the network")
        return nil
    }
}
