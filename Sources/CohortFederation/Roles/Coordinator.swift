import CohortCheckpoint
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// The coordinator: accepts authenticated nodes, runs rounds (send MODEL, collect UPDATEs until
/// all reply or the deadline, aggregate if a quorum replied), and journals every completed round
/// to disk before starting the next.
public final class Coordinator: @unchecked Sendable {
    /// How the federation runs.
    public struct Config {
        public var host = "127.0.0.1"
        public var port: UInt16 = 7070
        public var secrets: [String: [UInt8]] = [:]
        public var tls: TLSContext?
        public var rounds = 3
        public var minNodes = 1
        /// Updates needed to aggregate a round, and nodes needed to start rounds after the first
        /// (default: `minNodes`).
        public var quorum: Int?
        public var roundTimeout: Double = 60
        /// How long to wait for `minNodes` to connect before giving up.
        public var waitForNodes: Double = 120
        /// Fraction of the connected nodes sampled each round (at least the quorum), seeded by
        /// the plan's seed and the round number, so a run is reproducible.
        public var fraction = 1.0
        /// Seconds between HEARTBEAT frames to every connected node, so an idle node can tell a
        /// live coordinator from a dead link.
        public var heartbeatInterval: Double = 5
        public var outDir: String
        public var plan = TrainingPlan()
        /// After the last round, send the final model to every connected node (EVALUATE) and
        /// write their metrics to `evaluation.json`.
        public var finalEvaluation = true
        /// When set, the port actually listened on is written to this file (atomically) once the
        /// coordinator accepts connections, so launchers can use port 0.
        public var portFile: String?
        /// Testing only: under secure aggregation, write every masked vector received and every
        /// unmasked sum to this folder (`masked-s<session>-n<node>.u32`, `sum-s<session>.u32`).
        public var secureAggregationDump: String?
        /// Bytes of updates held for nodes whose turn to be folded has not come; beyond it their
        /// reading waits (see `OrderedFold`).
        public var updateBufferBytes = Coordinator.defaultUpdateBufferBytes
        /// Testing and reproducible simulations only: draw the privacy noise, the Poisson sample
        /// and the clipping count's noise from streams keyed by (this seed, round) instead of the
        /// CSPRNG. Anyone who knows the seed can subtract the noise.
        public var noiseSeed: UInt64?
        /// Send every MODEL and EVALUATE with the whole model, never a delta from the node's
        /// last version (`--full-models`).
        public var fullModels = false
        /// When set, the run reports to these metrics (`--metrics-listen`; protocols/metrics.md).
        public var metrics: CoordinatorMetrics?
        public init(outDir: String) { self.outDir = outDir }
    }

    /// One completed round, as written to `rounds.jsonl`.
    public struct RoundRecord: Codable, Sendable {
        public var round: Int
        public var participants: [String]
        public var accepted: [String]
        public var rejected: [String: String]
        /// Sample-weighted validation accuracy of the global model each node received.
        public var globalValidationAccuracy: Double?
        public var nodeMetrics: [String: [String: Double]]
        public var bytesDown: Int
        /// How many participants got their MODEL as a delta from their last version (the rest got the whole model).
        public var deltaModels: Int? = nil
        public var bytesUp: Int
        public var seconds: Double
        /// When the round completed (Unix time, seconds).
        public var finishedAt: Double
        /// Under `plan.privacy`: ε spent by the run up to and including this round, at `delta`.
        public var epsilon: Double?
        /// Under `plan.privacy`: the δ of `epsilon`.
        public var delta: Double?
        /// Under `plan.privacy`: σ of this round's noise (the accountant is rebuilt from these on resume).
        public var noiseMultiplier: Double?
        /// Under `plan.privacy`: the sampling rate q this round was accounted with (1 without
        /// `privacy.sampleRate`: see protocols/privacy.md, "Sampling").
        public var sampleRate: Double?
        /// Under `plan.privacy`: the fixed denominator of the mean (q·N under Poisson sampling,
        /// else the number of nodes sampled).
        public var denominator: Double?
        /// Under `privacy.adaptiveClipping`: C of this round, the C it moved to for the next
        /// round (resume continues with it), the noisy fraction b̄ of unclipped updates, and the
        /// update's own noise multiplier z_Δ (`noiseMultiplier` is the total z, accounted).
        public var clipNorm: Double?
        public var nextClipNorm: Double?
        public var unclippedFraction: Double?
        public var updateNoiseMultiplier: Double?
        /// Under `plan.secureAggregation`: the round's threshold t (`accepted` are the survivors whose inputs were summed).
        public var secureAggregationThreshold: Int?
        /// Set when the round released something (the survivors of its secure aggregation were
        /// announced, or its record was journaled) but its result was not applied to the model:
        /// why. The round stays accounted and is not run again (protocols/privacy.md, "Release point").
        public var unapplied: String?
    }

    /// What one round has collected so far; touched only under `lock`.
    private final class RoundState: @unchecked Sendable {
        var open = true
        var accepted: [String] = []
        var rejected: [String: String] = [:]
        var metrics: [String: [String: Double]] = [:]
        var bytesUp = 0
        var done = Set<String>()
    }

    final class Session {
        let name: String
        let samples: Int
        let conn: FramedConnection
        /// The last global version the node answered a MODEL of (it holds that version or a
        /// later one); nil until it has. Touched only under `lock`.
        var acknowledgedVersion: Int?
        init(name: String, samples: Int, conn: FramedConnection) { self.name = name; self.samples = samples; self.conn = conn }
    }

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
    let lock = NSLock()
    var sessions: [String: Session] = [:]
    private var stopped = false
    private(set) var architecture: ModelSpec
    var global: [(name: String, value: Tensor)]
    var version = 0
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
            let architecture = try Sequential(spec: arch, seed: 0)
            let localNames = plan.localTensorNames(of: architecture)
            // Under privacy the coordinator aggregates by DP-FedAvg whatever strategy it was handed.
            let dp = DPFedAvg(clipNorm: privacy.clipNorm, noiseMultiplier: privacy.noiseMultiplier!, localNames: localNames)
            dp.noisedNames = plan.sentTensorNames(of: architecture).subtracting(localNames)
            self.strategy = dp
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
        journaled = completed
        rejournal = !completed.isEmpty && initial.metadata.metrics["round"].map(Int.init) != completed.count
        version = completed.count
        downlink = DownlinkTracker(names: initial.tensors.map(\.name), version: version, fullModels: config.fullModels)
        listener = try TCPListener(host: config.host, port: config.port)
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

    /// Runs every round; returns their records. Progress goes to `log`.
    public func run(log: @escaping @Sendable (String) -> Void = { _ in }) throws -> [RoundRecord] {
        self.log = log
        try FileManager.default.createDirectory(atPath: config.outDir, withIntermediateDirectories: true)
        let acceptThread = Thread { [self] in acceptLoop() }
        acceptThread.start()
        Thread { [self] in heartbeatLoop() }.start()
        defer { shutdown() }
        if let portFile = config.portFile {
            try Data("\(port)\n".utf8).write(to: URL(fileURLWithPath: portFile), options: .atomic)
        }
        log("coordinator: listening on \(config.host):\(port), waiting for \(config.minNodes) node(s)")
        config.metrics?.coordinatorStarted { [weak self] in self.map { c in c.lock.withLock { c.sessions.count } } ?? 0 }
        var records = journaled
        var round = journaled.count + 1
        let firstRound = round
        if round > 1 { log("coordinator: resuming after round \(round - 1)") }
        if rejournal {
            try journal(records)
            log("coordinator: round \(records.count) is journaled but not in the checkpoint; it released a result under privacy or secure "
                + "aggregation, so it stays accounted, is not applied and is not run again (\(records.last?.unapplied ?? ""))")
        }
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
            if let record = try (plan.secureAggregation == nil ? runRound(round) : runSecureRound(round, attempt: failures)) {
                records.append(record)
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

    private func acceptLoop() {
        while !lock.withLock({ stopped }) {
            guard let accepted = try? listener.accept(timeout: 0.2) else { continue }
            let handOff = HandOff(accepted)
            let admit = Thread { [self] in
                let socket = handOff.value
                do {
                    let stream: ByteStream = try config.tls.map { try TLSStream(socket: socket, context: $0, timeout: 10) } ?? socket
                    // Until a node has authenticated, frames are small (HELLO, AUTH); after that
                    // they may carry a whole update.
                    let conn = FramedConnection(stream: stream, maxPayload: 64 << 10, readTimeout: 10)
                    let id = try Handshake.accept(conn, secrets: config.secrets, timeout: 10)
                    conn.maxPayload = Self.maxFrameBytes
                    conn.readTimeout = config.roundTimeout
                    let admitted = lock.withLock { () -> Bool in
                        guard !stopped else { return false }
                        sessions[id.name]?.conn.close()   // a reconnecting node replaces its old session
                        sessions[id.name] = Session(name: id.name, samples: id.samples, conn: conn)
                        return true
                    }
                    guard admitted else {
                        try? conn.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: []))
                        conn.close()
                        return
                    }
                    log("coordinator: node '\(id.name)' joined (\(id.samples) samples)")
                } catch {
                    socket.close()
                    log("coordinator: refused \(socket.peer): \(error)")
                }
            }
            admit.start()
        }
    }

    private func heartbeatLoop() {
        var next = Date().addingTimeInterval(config.heartbeatInterval)
        while !lock.withLock({ stopped }) {
            Thread.sleep(forTimeInterval: 0.1)
            guard Date() >= next else { continue }
            next = Date().addingTimeInterval(config.heartbeatInterval)
            for s in lock.withLock({ Array(sessions.values) }) {
                do { try s.conn.send(Frame(version: ProtocolVersion.current, type: MessageType.heartbeat.rawValue, payload: [])) } catch {
                    log("coordinator: node '\(s.name)' unreachable (\(error)); dropping it")
                    dropSession(s)
                }
            }
        }
    }

    private func waitForNodes(_ count: Int) throws {
        let deadline = Date().addingTimeInterval(config.waitForNodes)
        while lock.withLock({ sessions.count }) < count {
            guard Date() < deadline else {
                throw AggregationError("only \(lock.withLock { sessions.count }) of \(count) nodes connected within \(config.waitForNodes) s")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// One round; nil when the quorum was not reached (the global model is unchanged).
    private func runRound(_ round: Int) throws -> RoundRecord? {
        let start = Date()
        let connected = lock.withLock { sessions.values.sorted { $0.name < $1.name } }
        let (participants, offline) = privateSample(connected, round: round) ?? (sample(connected, round: round), [])
        let globalDict = Dictionary(uniqueKeysWithValues: global.map { ($0.name, $0.value) })
        let adaptive = try prepareDPRound(round, participants: participants.count)
        strategy.begin(round: round, global: globalDict)
        let header = RoundMessages.ModelHeader(round: round, modelVersion: version, plan: roundPlan, architecture: architecture)
        var cache: [Int: StreamedMessage] = [:]
        let models = try Dictionary(uniqueKeysWithValues: participants.map { ($0.name, try modelMessage(.model, header: header, for: $0, cache: &cache)) })
        let shapes = globalDict.mapValues(\.shape)
        let parameters = shapes.values.reduce(0) { $0 + $1.reduce(1, *) }
        let budget = parameters * 8 + 1 << 20
        let state = RoundState()
        let fold = OrderedFold(participants: participants.map(\.name), samples: Dictionary(uniqueKeysWithValues: participants.map { ($0.name, $0.samples) }),
                               strategy: strategy, bufferBudget: config.updateBufferBytes)
        let deadline = Date().addingTimeInterval(config.roundTimeout)
        let group = DispatchGroup()
        let expectedVersion = version
        for participant in participants {
            group.enter()
            let handOff = HandOff(participant)
            Thread { [self] in
                let session = handOff.value
                defer { group.leave() }
                var verdict: String? = nil
                var late = false
                do {
                    try session.conn.send(models[session.name]!.message, version: ProtocolVersion.current)
                    let (h, bytes) = try receiveUpdate(from: session, round: round, modelVersion: expectedVersion, shapes: shapes,
                                                       budget: budget, fold: fold, deadline: deadline)
                    acknowledge(session, version: expectedVersion)
                    lock.withLock {
                        state.metrics[session.name] = h.metrics.merging(["samples": Double(h.samples)]) { a, _ in a }
                        state.bytesUp += bytes
                    }
                } catch let closed as RoundClosed {
                    verdict = "\(closed)"
                    late = true
                } catch {
                    verdict = "\(error)"
                }
                lock.withLock {
                    state.done.insert(session.name)
                    if let verdict {
                        state.rejected[session.name] = verdict
                        fold.fail(session.name)
                    }
                }
                if let verdict {
                    config.metrics?.updateRejected(late ? .late : Date() >= deadline ? .timeout : .invalid)
                    log("coordinator: round \(round): update from '\(session.name)' rejected: \(verdict)")
                    if !late { dropSession(session) }
                }
            }.start()
        }
        _ = group.wait(timeout: .now() + config.roundTimeout + 2)
        let late: [Session] = lock.withLock {
            state.open = false
            fold.close()
            state.rejected.merge(fold.rejected) { mine, folds in mine.contains("cut off") ? mine : "\(mine); \(folds)" }
            state.accepted = fold.folded
            return participants.filter { !state.done.contains($0.name) }
        }
        for s in late {
            lock.withLock { state.rejected[s.name] = "no update within \(config.roundTimeout) s" }
            config.metrics?.updateRejected(.timeout)
            log("coordinator: round \(round): '\(s.name)' missed the deadline; dropping its connection")
            dropSession(s)
        }
        let quorum = config.quorum ?? config.minNodes
        let (acceptedNow, rejectedNow, metricsNow, up) = lock.withLock { (state.accepted.sorted(), state.rejected, state.metrics, state.bytesUp) }
        // Under Poisson sampling the round is released whoever was sampled (protocols/privacy.md, "Sampling").
        guard acceptedNow.count >= quorum || plan.privacy?.sampleRate != nil else {
            log("coordinator: round \(round): \(acceptedNow.count) update(s), quorum \(quorum)")
            return nil
        }
        let next = try strategy.finish()
        advanceGlobal(to: global.map { ($0.name, next[$0.name]!) })
        var weighted = 0.0, total = 0.0
        for m in metricsNow.values {
            if let a = m["global_val_accuracy"], a.isFinite, let n = m["samples"] { weighted += a * n; total += n }
        }
        var record = RoundRecord(round: round, participants: participants.map(\.name), accepted: acceptedNow, rejected: rejectedNow,
                                 globalValidationAccuracy: total > 0 ? weighted / total : nil, nodeMetrics: metricsNow,
                                 bytesDown: models.values.reduce(0) { $0 + $1.message.length }, bytesUp: up, seconds: Date().timeIntervalSince(start),
                                 finishedAt: Date().timeIntervalSince1970)
        record.deltaModels = models.values.filter(\.delta).count
        record.participants += offline
        for name in offline { record.rejected[name] = "sampled, not connected"; config.metrics?.updateRejected(.notConnected) }
        var privacyNote = accountPrivacy(&record)
        record.denominator = (strategy as? DPFedAvg)?.denominator
        if let adaptive { privacyNote += try finishAdaptiveClipping(round, adaptive, bits: acceptedNow.map { metricsNow[$0]?["clipped"] == 0 }, record: &record) }
        log("coordinator: round \(round) done: \(acceptedNow.count)/\(participants.count) updates, global val acc "
            + (record.globalValidationAccuracy.map { String(format: "%.3f", $0) } ?? "n/a")
            + ", \(record.bytesUp) bytes up, \(record.bytesDown) down (\(record.deltaModels!) as deltas), \(String(format: "%.2f", record.seconds)) s" + privacyNote)
        return record
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

    func dropSession(_ s: Session) {
        s.conn.close()
        lock.withLock { if sessions[s.name] === s { sessions[s.name] = nil } }
    }

    /// Writes all round records, the strategy's state (`server-state-R.ckpt`, server optimizers
    /// only) and then the global checkpoint, each durably (temp file, fsync, rename, directory
    /// fsync). The records go first, so after a crash between the writes the checkpoint can
    /// only lag the records, and resuming never applies a round twice.
    private func journal(_ records: [RoundRecord]) throws {
        try writeRoundRecords(records)
        journaled = records
        if let r = records.last { config.metrics?.roundJournaled(round: r.round, seconds: r.seconds, accepted: r.accepted.count, bytesUp: r.bytesUp, bytesDown: r.bytesDown, epsilon: r.epsilon) }
        try journalServerState(round: records.count, strategy: strategy)
        var metrics = ["round": Double(records.count)]
        if let accuracy = records.last?.globalValidationAccuracy { metrics["global_val_accuracy"] = accuracy }
        let meta = CheckpointMetadata(source: "coordinator round \(records.count)", history: [], metrics: metrics)
        try CheckpointFile.save(Checkpoint(architecture: architecture, metadata: meta, tensors: global),
                                to: (config.outDir as NSString).appendingPathComponent("global.ckpt"))
        pruneServerState(before: records.count)
    }

    private func shutdown() {
        let all: [Session] = lock.withLock {
            stopped = true
            defer { sessions = [:] }
            return Array(sessions.values)
        }
        for s in all {
            try? s.conn.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: []))
            s.conn.close()
        }
        listener.close()
    }
}
