import CohortCheckpoint
import CohortData
import CohortNN
import CohortTensor
import CohortTransport
import Foundation
import Synchronization

/// The coordinator: accepts authenticated nodes, runs rounds (send MODEL, collect UPDATEs until
/// all reply or the deadline, aggregate if a quorum replied), and journals every completed round
/// to disk before starting the next.
///
/// The rounds themselves are run by `PlainRoundRunner` and `SecureRoundRunner`, one method per
/// protocol step, and finished by `RoundRecordFinisher`; what their threads share lives in
/// `state`.
public final class Coordinator: @unchecked Sendable {
    public let config: Config
    /// The plan sent to the nodes: `config.plan` with, under privacy, σ filled in.
    public let plan: TrainingPlan
    let strategy: AggregationStrategy
    /// Under privacy: the accountant, stepped once per completed round.
    public internal(set) var accountant = RDPAccountant()
    /// The sampling rate private rounds are accounted with without `privacy.sampleRate`. Nodes
    /// are then sampled as a fixed fraction without replacement and the participants are
    /// journaled, so amplification by Poisson subsampling does not apply: the conservative q = 1.
    public static let fixedFractionSampleRate = 1.0
    /// Under `privacy.adaptiveClipping`: C for the next round (else the plan's C).
    var clipNorm = 1.0
    private let listener: TCPListener
    /// Sessions and the open round's progress, shared by the coordinator's threads.
    let state = Mutex(CoordinatorState())
    /// Numbers rounds (attempts) for `PlainRoundProgress.token`; touched by the run thread only.
    var roundTokens = 0
    private(set) var architecture: ModelSpec
    var global: [(name: String, value: Tensor)]
    var version = 0
    /// The tabular preprocessing the model's checkpoints carry: the initial checkpoint's, or the
    /// statistics round's fit (`runStatisticsRoundIfPlanned`).
    var preprocessing: FittedPreprocessing?
    /// Which tensors changed in which version, for MODEL deltas.
    let downlink: DownlinkTracker
    private(set) var log: @Sendable (String) -> Void = { _ in }

    /// The port actually listened on (useful with port 0).
    public var port: UInt16 { listener.port }

    /// The round records on disk (`rounds.jsonl`), as last journaled.
    private(set) var journaled: [RoundRecord] = []
    /// On resume: `journaled` holds a released round the checkpoint does not record, so `run`
    /// journals again first (see `loadJournal`).
    private var rejournal = false
    /// The last journaled round's global checkpoint, still being written (`CheckpointWriteBehind`).
    private var pendingCheckpoint: CheckpointWriteBehind?
    private var pendingRound = 0
    /// Every thread the coordinator starts (`spawn`); `run` waits for them before it returns, so
    /// the process never exits under one of them.
    private let threads = DispatchGroup()

    /// Binds the listening socket; `run` starts the rounds. `completed` holds the records of
    /// rounds already done (when resuming): the run continues after them from `initial`.
    public init(config: Config, initial: Checkpoint, strategy: AggregationStrategy, completed: [RoundRecord] = []) throws {
        guard let arch = initial.architecture else { throw AggregationError("the initial checkpoint has no architecture") }
        try config.plan.validate()
        self.config = config
        var plan = config.plan
        if var privacy = plan.privacy {
            if privacy.noiseMultiplier == nil, let target = privacy.targetEpsilon {
                // σ for the planned rounds at the budget (validate guarantees one of the two).
                privacy.noiseMultiplier = try RDPAccountant.noiseMultiplier(forEpsilon: target, delta: privacy.delta,
                                                                            sampleRate: Self.accountedSampleRate(privacy), steps: config.rounds)
            }
            plan.privacy = privacy
            // Under privacy the coordinator aggregates by the DP-FedAvg wrapper the factory picks,
            // whatever strategy it was handed.
            self.strategy = try StrategyFactory.make(plan, model: try Sequential(spec: arch, seed: 0))
            try Self.checkSampling(privacy, config: config)
            // Adaptive clipping resumes from the C the last round that updated it moved to.
            clipNorm = privacy.adaptiveClipping == nil ? privacy.clipNorm : completed.reversed().lazy.compactMap(\.nextClipNorm).first ?? privacy.clipNorm
            for r in completed {
                guard let sigma = r.noiseMultiplier, let q = r.sampleRate else {
                    throw AggregationError("cannot resume with privacy on: round \(r.round) of the journal ran without it (no noiseMultiplier recorded)")
                }
                accountant.step(noiseMultiplier: sigma, sampleRate: q)
            }
        } else {
            self.strategy = strategy
            try Self.restoreServerState(strategy, outDir: config.outDir, round: completed.count, global: initial.tensors)
        }
        self.plan = plan
        architecture = arch
        global = initial.tensors
        preprocessing = initial.metadata.preprocessing
        journaled = completed
        rejournal = !completed.isEmpty && initial.metadata.metrics["round"].map(Int.init) != completed.count
        version = completed.count
        downlink = DownlinkTracker(names: initial.tensors.map(\.name), version: version, fullModels: config.fullModels)
        listener = try TCPListener(host: config.host, port: config.port)
        // The first round's sum is made while the coordinator waits for its nodes.
        prepareNextSum()
    }

    /// Reads a journal for `--resume`: the checkpoint of the last completed round (its round
    /// number is stored in it) and the round records up to it.
    public static func loadJournal(outDir: String) throws -> (checkpoint: Checkpoint, completed: [RoundRecord]) {
        let ckptPath = (outDir as NSString).appendingPathComponent("global.ckpt")
        let linesPath = (outDir as NSString).appendingPathComponent("rounds.jsonl")
        let checkpoint = try CheckpointFile.load(ckptPath)
        guard let round = checkpoint.metadata.metrics["round"].map(Int.init), round >= 1 else {
            throw AggregationError("\(ckptPath) does not record which round it completed; cannot resume")
        }
        let records = try loadRoundRecords(outDir: outDir)
        // The records are written before the checkpoint, so they can lead it by one round at most
        // (a crash between the two writes, or a secure round's release record); without privacy
        // or secure aggregation that round is run again.
        guard records.count == round || records.count == round + 1 else {
            throw AggregationError("\(linesPath) has \(records.count) rounds but \(ckptPath) completed round \(round)")
        }
        return (checkpoint, keepingReleased(records, checkpointRound: round))
    }

    /// The round records in `OUT/rounds.jsonl` (none when the file does not exist yet).
    public static func loadRoundRecords(outDir: String) throws -> [RoundRecord] {
        let linesPath = (outDir as NSString).appendingPathComponent("rounds.jsonl")
        guard let text = try? String(contentsOfFile: linesPath, encoding: .utf8) else { return [] }
        var records: [RoundRecord] = []
        for (i, line) in text.split(separator: "\n").enumerated() {
            do { records.append(try JournalCoding.decoder.decode(RoundRecord.self, from: Data(line.utf8))) } catch {
                throw AggregationError("\(linesPath):\(i + 1): not a round record: \(error)")
            }
        }
        return records
    }

    /// Runs every round; returns their records. Progress goes to `log`. When the run fails, the
    /// connected nodes are told why (ERROR) instead of BYE, so they stop with an error too.
    public func run(log: @escaping @Sendable (String) -> Void = { _ in }) throws -> [RoundRecord] {
        self.log = log
        do {
            let records = try runRounds()
            try finishJournal()
            shutdown(failure: nil)
            return records
        } catch {
            try? finishJournal()
            shutdown(failure: "the coordinator stopped: \(error)")
            throw error
        }
    }

    private func runRounds() throws -> [RoundRecord] {
        try FileManager.default.createDirectory(atPath: config.outDir, withIntermediateDirectories: true)
        let leftovers = LeftoverTemporaryFiles.remove(in: config.outDir)
        if !leftovers.isEmpty { log("coordinator: removed \(leftovers.count) temporary file(s) a killed run left in \(config.outDir): \(leftovers.joined(separator: ", "))") }
        spawn { [self] in acceptLoop() }
        spawn { [self] in heartbeatLoop() }
        if let portFile = config.portFile {
            try Data("\(port)\n".utf8).write(to: URL(fileURLWithPath: portFile), options: .atomic)
        }
        log("coordinator: listening on \(config.host):\(port), waiting for \(config.minNodes) node(s)")
        config.metrics?.coordinatorStarted { [weak self] in self?.state.withLock { $0.sessions.count } ?? 0 }
        var records = journaled
        var round = journaled.count + 1
        let firstRound = round
        if round > 1 { log("coordinator: resuming after round \(round - 1)") }
        if rejournal {
            try journal(records)
            log("coordinator: round \(records.count) is journaled but not in the checkpoint; it released a result under privacy or secure "
                + "aggregation, so it stays accounted, is not applied and is not run again (\(records.last?.unapplied ?? ""))")
        }
        try runStatisticsRoundIfPlanned()
        var failures = 0
        let quorum = config.quorum ?? config.minNodes
        if let privacy = plan.privacy {
            log("coordinator: \(privacy.mode.rawValue) DP: clip C = \(privacy.clipNorm), noise σ = \(Self.format(privacy.noiseMultiplier!)), δ = \(privacy.delta)"
                + (privacy.targetEpsilon.map { ", budget ε = \($0)" } ?? "") + ", q = \(Self.accountedSampleRate(privacy))"
                + (privacy.sampleRate == nil ? "" : " (Poisson sampling of \(population.count) nodes)")
                + (privacy.adaptiveClipping.map { ", adaptive clipping to the \($0.targetQuantile) quantile (next C = \(Self.format(clipNorm)))" } ?? "")
                + (journaled.isEmpty ? "" : ", ε spent so far \(Self.format(accountant.epsilon(delta: privacy.delta)))"))
        }
        while round <= config.rounds {
            if let privacy = plan.privacy, let budget = privacy.targetEpsilon {
                let spent = accountant.epsilon(delta: privacy.delta)
                let after = accountant.adding(noiseMultiplier: privacy.noiseMultiplier!, sampleRate: Self.accountedSampleRate(privacy)).epsilon(delta: privacy.delta)
                if after > budget {
                    log("coordinator: privacy budget reached: round \(round) would take ε from \(Self.format(spent)) to \(Self.format(after)), "
                        + "over the budget ε = \(budget) at δ = \(privacy.delta); stopping after \(round - 1) of \(config.rounds) rounds")
                    break
                }
            }
            // The first round waits for --min-nodes; later ones go ahead with a quorum, so a
            // node that died does not stall the federation.
            try waitForNodes(round == firstRound ? config.minNodes : quorum)
            roundTokens += 1
            state.withLock { $0.round = round }
            var record = plan.secureAggregation == nil
                ? try PlainRoundRunner(coordinator: self, round: round, token: roundTokens).run()
                : try SecureRoundRunner(coordinator: self, round: round, attempt: failures).run()
            if record != nil {
                record!.dropped = takeDrops()
                records.append(record!)
                try journal(records)
                round += 1
                failures = 0
            } else {
                failures += 1
                guard failures < 3 else { throw AggregationError("round \(round) failed 3 times in a row (quorum or secure aggregation threshold not reached)") }
                log("coordinator: round \(round) not completed; retrying")
            }
        }
        if config.finalEvaluation { try evaluateFinalModel(round: round - 1) }
        return records
    }

    /// Accepts nodes through a `HandshakeGate` on this thread: bounded pre-authentication work
    /// (one thread, plain TCP or TLS; `config.handshakeLimits` caps
    /// unauthenticated connections in all and per address, fitted to the descriptor limit).
    private func acceptLoop() {
        let gate = HandshakeGate(
            listener: listener, secrets: config.secrets, tls: config.tls, limits: handshakeLimits,
            admissible: { [self] name in state.withLock { $0.isAdmissible(name) } },
            onAdmitted: { [self] conn, id in
                conn.maxPayload = Self.maxFrameBytes
                conn.readTimeout = config.roundTimeout
                switch state.withLock({ $0.admit(name: id.name, samples: id.samples, conn: conn) }) {
                case let .admitted(_, replaced):
                    replaced?.conn.close()   // a reconnecting node replaces its old, closed session
                    log("coordinator: node '\(id.name)' joined (\(id.samples) samples)")
                case .nameInUse:
                    _ = Handshake.refuse(conn, Handshake.authenticationFailed)
                    conn.close()
                    throw NameInUse(peer: conn.stream.peer, name: id.name)
                case .stopped:
                    try? conn.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: []))
                    conn.close()
                }
            },
            onRefused: { [self] peer, error in
                if let inUse = error as? NameInUse {
                    log("coordinator: warning: refused \(inUse.peer): node '\(inUse.name)' already has a live session "
                        + "(two processes under one name?); a second connection under its name is refused")
                } else {
                    log("coordinator: refused \(peer): \(error)")
                }
            },
            log: { [self] in log("coordinator: \($0)") })
        gate.run(until: { [self] in state.withLock { $0.stopped } })
    }

    /// The pre-authentication limits: `config.handshakeLimits`, else fitted to the descriptor
    /// limit with room for every node in the secrets file.
    var handshakeLimits: HandshakeLimits {
        config.handshakeLimits ?? HandshakeLimits.fitted(descriptorLimit: HandshakeLimits.currentDescriptorLimit(), sessions: config.secrets.count)
    }

    private func heartbeatLoop() {
        var next = Date().addingTimeInterval(config.heartbeatInterval)
        while !state.withLock({ $0.stopped }) {
            Thread.sleep(forTimeInterval: 0.1)
            guard Date() >= next else { continue }
            next = Date().addingTimeInterval(config.heartbeatInterval)
            for s in state.withLock({ Array($0.sessions.values) }) {
                do { try s.conn.send(Frame(version: ProtocolVersion.current, type: MessageType.heartbeat.rawValue, payload: [])) } catch {
                    log("coordinator: node '\(s.name)' unreachable (\(error)); dropping it")
                    dropSession(s, reason: .unreachable, detail: "\(error)")
                }
            }
        }
    }

    func waitForNodes(_ count: Int) throws {
        let deadline = Date().addingTimeInterval(config.waitForNodes)
        while state.withLock({ $0.sessions.count }) < count {
            guard Date() < deadline else {
                throw AggregationError("only \(state.withLock { $0.sessions.count }) of \(count) nodes connected within \(config.waitForNodes) s")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    static func format(_ x: Double) -> String { String(format: "%.4g", x) }

    /// `fraction` of the connected nodes (never fewer than the quorum), chosen by a generator
    /// seeded with the plan's seed and the round, in name order.
    func sample(_ connected: [Session], round: Int) -> [Session] {
        guard config.fraction < 1 else { return connected }
        let quorum = config.quorum ?? config.minNodes
        let count = min(connected.count, max(quorum, Int((config.fraction * Double(connected.count)).rounded(.up))))
        var rng = SeededRandom(seed: plan.seed &+ UInt64(round) &* 0x9E37_79B9)
        let chosen = Set(rng.permutation(connected.count).prefix(count))
        return connected.enumerated().filter { chosen.contains($0.offset) }.map(\.element)
    }

    /// Closes `s` and forgets it; with a `reason`, the drop is recorded for the round record
    /// and the final report (only while `s` is the live session under its name).
    func dropSession(_ s: Session, reason: NodeDrop.Reason? = nil, detail: String = "") {
        s.conn.close()
        state.withLock { $0.remove(s, reason: reason, detail: detail) }
    }

    /// The drops recorded since the last call, in order; nil when there were none.
    func takeDrops() -> [NodeDrop]? {
        let drops = state.withLock { s in
            let drops = s.drops
            s.drops = []
            return drops
        }
        return drops.isEmpty ? nil : drops
    }

    /// Writes all round records, the strategy's state (`server-state-R.ckpt`, server optimizers
    /// only) and then the global checkpoint (whose metadata carries the nodes' mean validation
    /// accuracy only without `plan.privacy`), each durably (temp file, fsync, rename, directory
    /// fsync). The records go first, so after a crash between the writes the checkpoint can
    /// only lag the records, and resuming never applies a round twice. The checkpoint is written
    /// behind the next round (`CheckpointWriteBehind`); the next journal, and the end of the
    /// run, wait for it first.
    func journal(_ records: [RoundRecord]) throws {
        try finishJournal()   // the previous round's checkpoint is on disk before these records
        try writeRoundRecords(records)
        journaled = records
        if let r = records.last { config.metrics?.roundJournaled(round: r.round, seconds: r.seconds, accepted: r.accepted.count, bytesUp: r.bytesUp, bytesDown: r.bytesDown, epsilon: r.epsilon) }
        try journalServerState(round: records.count, strategy: strategy)
        var metrics = ["round": Double(records.count)]
        // Under DP the checkpoint is released, and the nodes' validation accuracies are not
        // noised: the metadata then holds only the round (privacy.md, "What is released").
        if plan.privacy == nil, let accuracy = records.last?.globalValidationAccuracy, accuracy.isFinite { metrics["global_val_accuracy"] = accuracy }
        let meta = CheckpointMetadata(source: "coordinator round \(records.count)", history: [], metrics: metrics, preprocessing: preprocessing)
        // The checkpoint is the whole global model (what `--resume` starts from): for a large
        // model it is the journal's cost, the records are small. It is written while the next
        // round runs (`CheckpointWriteBehind`).
        let bytes = global.reduce(0) { $0 + 4 * $1.value.count }
        let round = records.count, log = self.log
        pendingCheckpoint = CheckpointWriteBehind(Checkpoint(architecture: architecture, metadata: meta, tensors: global),
                                                  to: (config.outDir as NSString).appendingPathComponent("global.ckpt")) { seconds in
            if bytes >= 64 << 20 {
                log(String(format: "coordinator: round %d journaled: global.ckpt (%ld bytes of weights) written durably in %.2f s (%.2f GB/s), "
                           + "behind the next round", round, bytes, seconds, Double(bytes) / max(seconds, 1e-9) / 1e9))
            }
        }
        pendingRound = round   // older server states go once this checkpoint is on disk
    }

    /// Waits for the last journaled checkpoint to be on disk; throws its write's error.
    func finishJournal() throws {
        guard let pending = pendingCheckpoint else { return }
        pendingCheckpoint = nil
        try pending.wait()
        pruneServerState(before: pendingRound)
    }

    /// Runs `body` on a thread of its own, one that `shutdown` waits for.
    func spawn(_ body: @escaping @Sendable () -> Void) {
        threads.enter()
        Thread { [threads] in
            defer { threads.leave() }
            body()
        }.start()
    }

    /// Stops admitting and closes every session, after BYE, or with `failure` an ERROR saying
    /// why; then waits for the coordinator's threads (closing a session wakes any still reading
    /// from it) and closes the listener once the accept loop no longer polls it.
    private func shutdown(failure: String?) {
        let all: [Session] = state.withLock { s in
            s.stopped = true
            let all = Array(s.sessions.values)
            s.sessions = [:]
            s.acknowledged = [:]
            return all
        }
        let farewell = failure.flatMap { try? JSONEncoder().encode(Handshake.ErrorMessage(message: $0)) }
            .map { Frame(version: ProtocolVersion.current, type: MessageType.error.rawValue, payload: Array($0)) }
            ?? Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: [])
        for s in all {
            try? s.conn.send(farewell)
            s.conn.close()
        }
        if threads.wait(timeout: .now() + Self.threadsStopWithin) == .timedOut {
            log("coordinator: warning: a thread did not stop within \(Self.threadsStopWithin) s of the end of the run")
        }
        listener.close()
    }

    /// How long `shutdown` waits for the coordinator's threads (they poll for the stop every 0.1 s).
    static let threadsStopWithin = 10.0
}
