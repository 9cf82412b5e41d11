import CohortAdapt
import CohortCheckpoint
import CohortData
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// A site: dials out to the coordinator, proves its identity, and for each MODEL trains
/// locally on data that never leaves it and sends back an encoded delta.
public final class FederatedNode {
    /// Where and who.
    public struct Config {
        public var host: String
        public var port: UInt16
        public var name: String
        public var secret: [UInt8]
        /// TLS trust (nil: plain TCP, which the CLI only allows when asked for explicitly).
        public var tls: TLSContext?
        public var train: LabelledData
        public var validation: LabelledData
        /// Held-out test data: when present, every received model is scored on it (reported in
        /// UPDATE metrics as `test_accuracy` / `test_balanced_accuracy`) and EVALUATE uses it.
        public var test: LabelledData?
        /// Inputs without labels `[m, features]`: used only by the plan's local adaptation step.
        public var unlabelled: Tensor?
        /// Connection attempts before giving up (exponential backoff with jitter between them).
        public var connectAttempts = 8
        /// How many lost sessions to recover from before giving up.
        public var maxReconnects = 5
        /// Longest silence from the coordinator (which sends heartbeats every few seconds) and
        /// the deadline for one frame.
        public var timeout: Double = 120
        /// Testing only: write every secure-aggregation input vector (fixed-point words, before
        /// masking) to this folder (`input-s<session>-n<node>.u32`).
        public var secureAggregationDump: String?
        /// Testing only: drop the connection right after sending this secure-aggregation step's
        /// message in the first attempt of this round, then reconnect (a simulated dropout).
        public var testDropAfter: (step: SecureAggregationStep, round: Int)?
        /// Testing only: in the first attempt of this round, reveal corrupted self-mask shares at
        /// secure aggregation's step 4 (a faulty node: the coordinator cannot rebuild the sum).
        public var testCorruptUnmasking: Int?
        /// The consistency round against a malicious coordinator: this node's signing key and
        /// its peers' public keys (`--secagg-signing-key`, `--secagg-peers`). With it the node
        /// refuses any secure round whose plan lacks `secureAggregation.consistencyCheck`.
        public var secureAggregationIdentity: SecureAggregation.Identity?
        /// Testing only: act as a hostile site (`--test-attack`): corrupt every update, train
        /// on flipped labels or claim 10⁹ samples (see `ByzantineAttack`).
        public var testAttack: ByzantineAttack?
        /// Refuse any plan without secure aggregation (`--require-secure-aggregation`).
        public var requireSecureAggregation = false
        /// Refuse any plan whose differential privacy is not applied at this node: distributed
        /// DP or record-level DP-SGD (`--require-dp`).
        public var requireDP = false
        /// Send this site's evaluation scores to the coordinator even where the plan keeps them
        /// here (secure aggregation, record-level DP, or a `require…` policy): `--share-metrics`.
        public var shareMetrics = false
        /// The loss for regression targets (classification uses cross-entropy).
        public var regressionLoss: RegressionLoss = .mse
        /// Largest MODEL or EVALUATE message accepted (streamed in chunks; memory grows only
        /// with the bytes that arrive).
        public var maxModelBytes = 1 << 40
        /// The site's raw tabular rows and schema, for a federated statistics round (nil: the
        /// node cannot take part in one). `train`, `validation`, `test` and `unlabelled` hold the
        /// rows encoded with the node's own fit until the coordinator's fit replaces them.
        public var rawTable: RawSiteTable?
        /// Training samples read batch by batch (an image site streamed from disk) instead of
        /// held in `train`, which then holds only a bounded sample of them: what BatchNorm
        /// statistics are re-estimated on and the model's input is checked against. Plans that
        /// need every training sample in memory (record-level DP, personalization, local
        /// adaptation) are refused (`StreamedTrainingError`).
        public var trainSource: (any BatchSource)?
        /// After each plain round, the tensors trained and sent (before the delta) are written
        /// here as safetensors (`--save-trained`), replacing the file.
        public var saveTrainedTo: String?
        /// In a plain round, the received global weights of the tensors the node trains go to
        /// an unlinked temporary file in `spillDirectory` while it trains (`GlobalSpill`),
        /// when they total at least this many bytes; nil keeps them in memory. Training then
        /// holds two model-sized buffers (weights, momentum) instead of three.
        public var spillGlobalAbove: Int? = 256 << 20
        /// Where the global weights' temporary file is made (`--spill-dir`).
        public var spillDirectory = NSTemporaryDirectory()
        /// Whether the model object is built without drawing its weights (they are all
        /// overwritten by the MODEL's); false only in tests that compare the two.
        var skipsInitialization = true
        public init(host: String, port: UInt16, name: String, secret: [UInt8], tls: TLSContext?, train: LabelledData, validation: LabelledData) {
            self.host = host; self.port = port; self.name = name; self.secret = secret
            self.tls = tls; self.train = train; self.validation = validation
        }
    }

    /// The configuration; a federated preprocessing fit re-encodes its data sets.
    public internal(set) var config: Config
    /// The preprocessing received in the statistics round, as this site applies it; nil when
    /// there was none.
    public internal(set) var preprocessing: FittedPreprocessing?
    /// The model object (rebuilt when the architecture changes, or after a MODEL that failed
    /// while decoding into it).
    var model: Sequential?
    /// The model this site ends with: the last final-evaluation model as the site uses it (the
    /// global weights with its own local tensors and the plan's adaptation step), a copy owned
    /// by the caller; nil until the coordinator has sent one.
    public private(set) var finalModel: Sequential?
    private var feedback = ErrorFeedback()
    /// Tensors kept local across rounds (FedBN's BatchNorm tensors, FedPer / FedRep's personal ones).
    private var localState: [String: Tensor] = [:]
    /// Ditto's personal model (empty until its first round here); never sent.
    var personalState: [String: Tensor] = [:]
    /// The global weights as last received, to which a delta MODEL applies.
    var receivedGlobal = ReceivedGlobal()
    /// The stages of the plain round in progress, timed (logged when its UPDATE is sent).
    var stageClock: NodeStageClock?
    /// Under `plan.recordPrivacy`: DP-SGD steps taken on this node's examples (this process's runs).
    var recordAccountant = RDPAccountant()
    /// The plan's local adaptation step and guard (see `LocalAdaptation`).
    private lazy var adaptation = LocalAdaptation(node: config.name, train: config.train, unlabelled: config.unlabelled, validation: config.validation)
    /// The weight announced in HELLO and every UPDATE: labelled training rows; a node with none
    /// (it only adapts) announces 1.
    /// A hostile test node (`Config.testAttack`) may claim another count.
    var samples: Int {
        let honest = max(trainingCount, 1)
        return config.testAttack?.claimedSamples(honest: honest) ?? honest
    }
    /// Labelled training samples: the streamed source's, else `train`'s.
    var trainingCount: Int { config.trainSource?.count ?? config.train.count }

    public init(config: Config) {
        var config = config
        if let attack = config.testAttack { config.train.labels = attack.trainingLabels(config.train.labels) }
        self.config = config
    }

    /// Connects (with backoff), serves rounds until BYE; returns the rounds served. When an
    /// established session is lost (coordinator restarted, link cut, deadline missed), the node
    /// reconnects with backoff and carries on, keeping its model, error-feedback residuals and
    /// local tensors. A refusal or an ERROR from the coordinator ends the run.
    @discardableResult
    public func run(log: (String) -> Void = { _ in }) throws -> Int {
        var rounds = 0
        var losses = 0
        while true {
            let conn = try connect(log: log)
            defer { conn.close() }
            do {
                try serve(conn, rounds: &rounds, log: log)
                return rounds
            } catch let error as SessionLost {
                losses += 1
                guard losses <= config.maxReconnects else {
                    throw TransportError("\(config.name): lost the coordinator \(losses) times; last: \(error.reason)")
                }
                log("\(config.name): lost the coordinator (\(error.reason)); reconnecting")
            }
        }
    }

    /// What precedes the JSON of a round's `NodeStageTimings` in the node's log line.
    public static let stagesLogMarker = ": stages "

    /// The connection dropped mid-session (as opposed to a refusal or a reported error).
    struct SessionLost: Error { let reason: String }

    private func serve(_ conn: FramedConnection, rounds: inout Int, log: (String) -> Void) throws {
        var pending: Frame? = nil   // a frame a secure-aggregation round received but did not consume
        while true {
            let frame: Frame
            if let p = pending { frame = p; pending = nil } else {
                do { frame = try conn.receive(timeout: config.timeout) } catch { throw SessionLost(reason: "\(error)") }
            }
            switch MessageType(rawValue: frame.type) {
            case .model:
                stageClock = NodeStageClock(round: 0)
                defer { stageClock = nil }
                let (header, weights) = try receiveGlobal(frame, conn: conn, policy: true, log: log)
                stageClock?.mark("MODEL receive and decode into the tensors (digest and value checks)")
                if let assignment = header.secureAggregation {
                    pending = try serveSecureRound(header, weights: weights, assignment: assignment, conn: conn, log: log)
                    rounds += 1
                    continue
                }
                let reply = try handleModel(header, weights: consume weights, log: log)
                do { try conn.send(reply, version: frame.version) } catch let lost as TransportError {
                    throw SessionLost(reason: "\(lost)")
                } catch {
                    // The streamed delta stopped between chunks (a non-finite value, an
                    // unreadable spill file): the coordinator is told why, and the run ends.
                    _ = Handshake.refuse(conn, "node '\(config.name)' cannot send its update of round \(header.round): \(error)")
                    throw error
                }
                if let clock = stageClock {
                    clock.mark("UPDATE send (the delta streamed from the trained and received weights)")
                    var timings = clock.timings
                    timings.round = header.round
                    if let json = try? JSONEncoder().encode(timings), let text = String(data: json, encoding: .utf8) {
                        log("\(config.name): round \(header.round)\(Self.stagesLogMarker)\(text)")
                    }
                }
                rounds += 1
            case .evaluate:
                let (header, weights) = try receiveGlobal(frame, conn: conn, policy: false, log: log)
                let reply = try handleEvaluate(header, weights: weights, log: log)
                do { try conn.send(Frame(version: frame.version, type: MessageType.evalResult.rawValue, payload: reply)) } catch {
                    throw SessionLost(reason: "\(error)")
                }
            case .statsRequest:
                try answerStatisticsRequest(frame, conn: conn, log: log)
            case .preprocessing:
                try applyPreprocessing(frame, roundsServed: rounds, log: log)
            case .heartbeat:
                continue
            case .bye:
                log("\(config.name): coordinator finished after \(rounds) rounds")
                return
            case .error:
                let message = (try? JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(frame.payload)))?.message ?? "?"
                throw TransportError("coordinator reported: \(message)")
            case let type? where type.isSecureAggregation:
                // An ABORT or a late step of an attempt this node has finished or left.
                log("\(config.name): ignoring a secure-aggregation message (type \(frame.type)"
                    + (Self.otherSession(frame, than: nil).map { ", session \($0)" } ?? "") + ") outside a secure round")
            default:
                throw TransportError("unexpected message type \(frame.type) from the coordinator")
            }
        }
    }

    private func connect(log: (String) -> Void) throws -> FramedConnection {
        var delay = 0.1
        var lastError: Error = TransportError("no attempt")
        for attempt in 1...max(config.connectAttempts, 1) {
            do {
                let socket = try TCPSocket.connect(host: config.host, port: config.port, timeout: 5)
                let stream: ByteStream = try config.tls.map { try TLSStream(socket: socket, context: $0, serverName: config.host, timeout: 10) } ?? socket
                let conn = FramedConnection(stream: stream, maxPayload: Coordinator.maxFrameBytes, readTimeout: config.timeout,
                                            writeTimeout: config.timeout)
                _ = try Handshake.connect(conn, node: config.name, secret: config.secret, samples: samples)
                log("\(config.name): connected to \(config.host):\(config.port)")
                return conn
            } catch let refusal as HandshakeRefusal {
                throw refusal   // the coordinator said no (wrong secret, unknown node): retrying will not help
            } catch {
                lastError = error
                if attempt == config.connectAttempts { break }
                let jitter = Double.random(in: 0.5...1.5)
                Thread.sleep(forTimeInterval: delay * jitter)
                delay = min(delay * 2, 5)
            }
        }
        throw TransportError("\(config.name): could not reach the coordinator at \(config.host):\(config.port) after \(config.connectAttempts) attempts: \(lastError)")
    }

    /// This site's model object for `header`'s architecture (made when it changes). Its large
    /// weights are neither drawn nor written (`.unfilled`, `skipsInitialization`): every tensor
    /// is replaced by the MODEL's before anything reads it (the stream decoder requires every
    /// tensor of a whole model, a failed MODEL discards the model object, and `receive` loads
    /// the whole checked global model strictly).
    func modelObject(for header: RoundMessages.ModelHeader) throws -> Sequential {
        if model == nil || model!.spec != header.architecture {
            let m = try Sequential(spec: header.architecture, seed: 0, initialization: config.skipsInitialization ? .unfilled : .seeded)
            let columns = m.inputShape.reduce(1, *)
            guard config.train.count == 0 || config.train.inputs.columns == columns else {
                throw DataError("\(config.name): the data has \(config.train.inputs.columns) features, the model expects \(m.inputShape)")
            }
            // Every set the node scores or adapts on must fit too (a test file is loaded separately).
            let others: [(String, Tensor?)] = [("validation", config.validation.inputs), ("test", config.test?.inputs), ("unlabelled", config.unlabelled)]
            for case let (role, inputs?) in others where inputs.rows > 0 && inputs.columns != columns {
                throw DataError("\(config.name): the \(role) data has \(inputs.columns) features, the model expects \(m.inputShape) (\(columns))")
            }
            model = m
        }
        return model!
    }

    /// The model of a MODEL or EVALUATE message (its whole global `weights`), loaded as this
    /// site uses it: the global weights with the site's own tensors (FedBN's BatchNorm) in
    /// place of the global ones. Also returns the global accuracy on the validation split,
    /// before local tensors go in.
    private func receive(_ header: RoundMessages.ModelHeader, weights: consuming [String: Tensor])
        throws -> (model: Sequential, global: [String: Tensor], keepLocal: Set<String>, globalAccuracy: Double)
    {
        try header.plan.validate()
        let model = try modelObject(for: header)
        var global = consume weights
        let keepLocal = header.plan.localTensorNames(of: model)
        try model.load(global)
        // The global model as received, evaluated on local validation data (federated evaluation).
        let globalAccuracy = config.validation.count > 0 ? Double(Inference.accuracy(model, config.validation)) : .nan
        for name in keepLocal { if let mine = localState[name] { global[name] = mine } }
        try model.load(global)
        // Under DP-SGD no statistic is computed from the data: training uses the received ones.
        let statistics = Set(model.layers.compactMap { $0 as? BatchNorm }.flatMap { $0.buffers.map(\.name) })
        if !keepLocal.isDisjoint(with: statistics) && config.train.count > 1 && header.plan.recordPrivacy == nil {
            // The site's own BatchNorm statistics, re-estimated for the new global weights (the
            // kept ones were measured under last round's weights); FedBN's γ and β stay the site's own.
            AdaBN.adapt(model, inputs: config.train.inputs)
            for (name, value) in model.stateDict() where keepLocal.contains(name) { global[name] = value }
        }
        return (model, global, keepLocal, globalAccuracy)
    }

    /// Test metrics of the model as this site would use it (empty without test data).
    private func testMetrics(_ model: Sequential) throws -> [String: Double] {
        guard let test = config.test, test.count > 0 else { return [:] }
        if test.isRegression { return Inference.regressionMetrics(model, test, prefix: "test_") }
        let report = try Inference.report(model, test)
        return ["test_accuracy": report.accuracy, "test_balanced_accuracy": report.balancedAccuracy, "test_samples": Double(test.count)]
    }

    /// Scores the model of an EVALUATE message (its whole global `weights`) on the test data
    /// (or, without it, the validation split) and returns the EVAL_RESULT payload.
    func handleEvaluate(_ header: RoundMessages.ModelHeader, weights: [String: Tensor], log: (String) -> Void) throws -> [UInt8] {
        let (received, _, keepLocal, globalAccuracy) = try receive(header, weights: weights)
        let plan = header.plan
        // The global model as the coordinator holds it (without this site's own tensors).
        let global = keepLocal.isEmpty ? received : try received.copy()
        if global !== received { try global.load(weights) }
        let personal = try personalModel(received: received, plan: plan, round: header.round)
        // Under FedPer / FedRep the received model is the personal one: the guard weighs it against the global model.
        let (model, extra, lines) = try adaptation.finalModel(received: received, incoming: personal.model === received ? global : nil,
                                                              personal: personal.model, plan: plan, round: header.round)
        for line in ([personal.line] + lines) where !line.isEmpty { log("\(config.name): final model: \(line)") }
        finalModel = try model.copy()
        var metrics = try testMetrics(model).merging(extra) { a, _ in a }.merging(personal.metrics) { a, _ in a }
        if model !== received, let a = try testMetrics(received)["test_accuracy"] { metrics["received_test_accuracy"] = a }
        // Per site, the global and the personal model's scores (evaluation.json). Test scores are
        // reported only: every choice above read the validation split.
        for (prefix, m) in [("global_", global), ("personal_", personal.model)] {
            guard let m else { continue }
            for (k, v) in try testMetrics(m) where k != "test_samples" { metrics[prefix + k] = v }
            if config.validation.count > 0 { metrics[prefix + "val_accuracy"] = Double(Inference.accuracy(m, config.validation)) }
        }
        metrics["global_val_accuracy"] = globalAccuracy
        if config.validation.isRegression {
            metrics.merge(Inference.regressionMetrics(model, config.validation, prefix: "val_")) { a, _ in a }
        } else if config.validation.count > 0 {
            let report = try Inference.report(model, config.validation)
            metrics["val_accuracy"] = report.accuracy
            metrics["val_balanced_accuracy"] = report.balancedAccuracy
        }
        metrics = metrics.filter { $0.value.isFinite }
        let r2 = metrics["test_r2"] ?? metrics["val_r2"]
        let shown = r2 ?? metrics["test_accuracy"] ?? metrics["val_accuracy"] ?? .nan
        let both = metrics["personal_test_accuracy"].map { p in
            String(format: " (global model %.3f, personal model %.3f)", metrics["global_test_accuracy"] ?? .nan, p)
        } ?? ""
        log("\(config.name): evaluated the final model (version \(header.modelVersion)): \(r2 == nil ? "accuracy" : "R²") \(String(format: "%.3f", shown))" + both
            + (keepsScoresLocal(header.plan) ? " (kept here: \(scoresLocalReason(header.plan)))" : ""))
        if keepsScoresLocal(header.plan) { metrics = [:] }
        return try RoundMessages.payload(RoundMessages.EvalResultHeader(round: header.round, modelVersion: header.modelVersion,
                                                                        samples: samples, metrics: metrics.filter { $0.value.isFinite }), body: [])
    }

    /// Encodes a node's update as the plan says. Under `plan.privacy` the whole delta — every
    /// tensor sent (the BatchNorm running statistics are not among them: under privacy they
    /// stay at the node, `TrainingPlan.localTensorNames`) — is clipped to global L2 norm C with
    /// `DeltaClipper` first, and encoded *without* error feedback (a residual would carry
    /// clipped-off or unsent mass into a later round, outside the sensitivity bound; top-k is
    /// refused by `TrainingPlan.validate` for the same reason). Quantisation and zlib are
    /// post-processing. Returns the bytes and, under privacy, the norm before clipping.
    public static func encodeUpdate(_ delta: ModelDelta, plan: TrainingPlan, feedback: inout ErrorFeedback) throws
        -> (bytes: [UInt8], preClipNorm: Double?)
    {
        let encoder = try DeltaEncoder(config: plan.codec)
        guard let privacy = plan.privacy else { return (try encoder.encode(delta, feedback: &feedback), nil) }
        let (clipped, norm) = try DeltaClipper(clipNorm: privacy.clipNorm).clip(delta)
        feedback.reset()
        return (try encoder.encode(clipped), norm)
    }

    /// What one round of local training produced.
    struct LocalUpdate {
        /// The trained tensors the plan sends, in the model's order, and the global model they
        /// are measured against: the delta is `local − global` of each, made only when asked
        /// for (`delta()`), or streamed to the socket without being made (`RoundMessages.updateMessage`).
        let sent: [String]
        let local: [String: Tensor]
        let global: [String: Tensor]
        /// The global values of the sent tensors `global` lacks (a plain round's spill).
        var spill: GlobalSpill? = nil
        /// A delta made during training (top-k's statistics for the sent weights), if any.
        var prepared: ModelDelta? = nil
        /// Metrics of the model as received (`global_val_accuracy`, `test_*`): nothing about the update.
        let received: [String: Double]
        /// Metrics of the trained model: `local_val_accuracy`, `train_loss`.
        let trained: [String: Double]
        /// Under DP-SGD: the node's record-level guarantee (`record_epsilon`, …), which depends
        /// only on the settings, not on the data.
        var accounting: [String: Double] = [:]
        /// Lines for the node's log: what the plan's adaptation step and guard did.
        var notes: [String] = []

        /// `local − global` of every sent tensor, in order.
        func delta() throws -> ModelDelta {
            if let prepared { return prepared }
            return try ModelDelta(local: sent.compactMap { name in local[name].map { (name, $0) } },
                                  global: global.map { ($0.key, $0.value) }, trainable: Set(sent))
        }
    }

    /// Trains on one MODEL message (its whole global `weights`) and returns the UPDATE payload.
    ///
    /// A plain dense float32 update (`RoundMessages.streamsDenseUpdate`, no test attack, no
    /// error-feedback residual held) is streamed: the delta is computed chunk by chunk as the
    /// UPDATE goes out, never held whole. Any other is encoded by `encodeUpdate` and sent from
    /// its bytes.
    func handleModel(_ header: RoundMessages.ModelHeader, weights: consuming [String: Tensor], log: (String) -> Void) throws -> StreamedMessage {
        let update = try trainLocally(header, weights: consume weights)
        let plan = header.plan
        if let path = config.saveTrainedTo {
            try Safetensors.save(update.sent.compactMap { name in update.local[name].map { (name, $0) } },
                                 metadata: ["node": config.name, "round": "\(header.round)", "modelVersion": "\(header.modelVersion)"], to: path)
            stageClock?.mark("trained tensors saved (--save-trained)")
        }
        if update.prepared == nil && streamsUpdate(plan) {
            let metrics = outgoingMetrics(update, plan: plan).filter { $0.value.isFinite }
            let message = try RoundMessages.updateMessage(RoundMessages.UpdateHeader(round: header.round, modelVersion: header.modelVersion,
                                                                                     samples: samples, metrics: metrics),
                                                          local: update.local, global: update.global, spill: update.spill, names: update.sent)
            stageClock?.mark("UPDATE prepared (header; the delta is made and checksummed as it is sent)")
            logRound(header, update, sent: message.length, log: log)
            return message
        }
        var delta = try update.delta()
        if let attack = config.testAttack {
            let honest = delta
            delta = try attack.corrupt(delta, seed: plan.seed &+ UInt64(header.round) &* 0x9E37_79B9_7F4A_7C15)
            log("\(config.name): round \(header.round): TEST ATTACK \(attack.rawValue): update norm \(String(format: "%.4g", ByzantineAttack.norm(honest))) "
                + "sent as \(String(format: "%.4g", ByzantineAttack.norm(delta))), claiming \(samples) samples")
        }
        let (encoded, preClipNorm) = try Self.encodeUpdate(delta, plan: plan, feedback: &feedback)
        let metrics = outgoingMetrics(update, plan: plan)
            .merging(["update_bytes": Double(encoded.count)]) { a, _ in a }
            .merging(preClipNorm.map { ["update_norm": $0, "clipped": $0 > plan.privacy!.clipNorm ? 1 : 0] } ?? [:]) { a, _ in a }
            .filter { $0.value.isFinite }   // JSON has no NaN: a metric the node cannot measure (no validation split) is left out
        logRound(header, update, sent: encoded.count, log: log)
        return StreamedMessage(type: MessageType.update.rawValue,
                               bytes: try RoundMessages.payload(RoundMessages.UpdateHeader(round: header.round, modelVersion: header.modelVersion,
                                                                                           samples: samples, metrics: metrics), body: encoded))
    }

    /// Whether this node's UPDATE under `plan` streams as a dense float32 delta, made chunk by
    /// chunk from the trained and the received weights as it is sent (no test attack, no
    /// error-feedback residual, the default codec): the only UPDATE a spilled global serves.
    func streamsUpdate(_ plan: TrainingPlan) -> Bool {
        config.testAttack == nil && feedback.names.isEmpty && RoundMessages.streamsDenseUpdate(plan)
    }

    private func logRound(_ header: RoundMessages.ModelHeader, _ update: LocalUpdate, sent: Int, log: (String) -> Void) {
        for note in update.notes { log("\(config.name): round \(header.round): \(note)") }
        log("\(config.name): round \(header.round): global val acc \(String(format: "%.3f", update.received["global_val_accuracy"] ?? .nan)), "
            + "after local training \(String(format: "%.3f", update.trained["local_val_accuracy"] ?? .nan)), sent \(sent) bytes")
    }

    /// Loads the MODEL's weights, trains per its plan, and returns the delta of the tensors the
    /// plan sends (`TrainingPlan.sentTensorNames`) with the round's metrics.
    func trainLocally(_ header: RoundMessages.ModelHeader, weights: consuming [String: Tensor]) throws -> LocalUpdate {
        var (model, global, keepLocal, globalAccuracy) = try receive(header, weights: consume weights)
        let received = try testMetrics(model).merging(["global_val_accuracy": globalAccuracy]) { a, _ in a }
        stageClock?.mark("load into the model, score the received model")
        try checkStreamable(header.plan)
        guard trainingCount > 0 || adaptation.applies(header.plan) else {
            throw DataError("\(config.name): no labelled training rows, and the plan names no adaptation step for this node: nothing to do")
        }
        let incoming = adaptation.guards(header.plan) ? try model.copy() : nil
        for p in model.parameters {
            p.isTrainable = header.plan.trains(p)
        }
        let plan = header.plan
        // Ditto's personal step (and FedAvg-FT's per-round report) start from the model as received.
        let personal = try trainPersonal(received: model, plan: plan, round: header.round)
        let seed = Self.trainingSeed(plan: plan, round: header.round, secureAggregation: header.secureAggregation != nil)
        if plan.personalization?.method == "fedrep" {
            // FedRep: the personal tensors first, alone; then the shared ones, alone.
            let personalNames = plan.personalTensorNames(of: model)
            try PersonalTraining.trainHead(model, personal: personalNames, train: config.train, epochs: plan.personalization!.headEpochs,
                                           plan: plan, seed: seed &+ 1)
            for p in model.parameters { p.isTrainable = plan.trains(p) && !personalNames.contains(p.name) }
        }
        let groups = [ParameterGroup(parameters: model.parameters, learningRate: plan.learningRate, weightDecay: plan.weightDecay)]
        // Momentum kept in the gradient buffers (weights, velocity and the received global: 3× the
        // model), except where the gradient itself is read: DP-SGD's clipping, LoRA's base weights.
        let optimizer: Optimizer = plan.momentum > 0 && plan.recordPrivacy == nil && header.architecture.lora == nil
            ? try GradientMomentumSGD(groups: groups, momentum: plan.momentum) : SGD(groups: groups, momentum: plan.momentum)
        // FedProx's proximal term μ/2‖w − w_global‖² is L2-SP with the global weights as reference:
        // the received global this node keeps for its delta (shared tensors, not another copy;
        // the site's own tensors in place of the global ones, as the model was loaded).
        let prox = plan.proximalMu > 0 ? L2SP(reference: global, alpha: plan.proximalMu) : nil
        let (spill, spillNote) = spillGlobal(model, global: &global, keepLocal: keepLocal, header: header)
        let trainer = Trainer(model: model, optimizer: optimizer,
                              config: TrainingConfig(epochs: plan.localEpochs, batchSize: plan.batchSize, seed: seed, l2sp: prox, regressionLoss: config.regressionLoss))
        var accounting: [String: Double] = [:]
        var trainLoss = Double.nan
        stageClock?.mark("training set-up (optimizer, personal step)")
        var stepSeconds = 0.0
        if let clock = stageClock {
            trainer.onStep = { i, t in
                clock.add("batch \(i + 1): forward and backward", seconds: t.forwardBackward)
                clock.add("batch \(i + 1): optimizer (zeroGrad, step)", seconds: t.zeroGrad + t.update)
                stepSeconds += t.zeroGrad + t.forwardBackward + t.update
            }
        }
        if let record = plan.recordPrivacy {
            (trainLoss, accounting) = try trainPrivately(model, optimizer: optimizer, plan: plan, record: record, prox: prox)
        } else {
            if let source = config.trainSource {
                trainLoss = Double(try trainer.fit(source: source).epochs.last?.trainLoss ?? .nan)
            } else if config.train.count > 0 {
                trainLoss = Double(try trainer.fit(config.train).epochs.last?.trainLoss ?? .nan)
            }
            // Precise BatchNorm statistics for the trained weights, over this site's training inputs
            // (a streamed site's: its bounded sample of them).
            stageClock?.mark("training outside the batches (epoch loop, batch assembly)", minus: stepSeconds)
            if config.train.count > 1 { AdaBN.adapt(model, inputs: config.train.inputs) }
        }
        let step = try adaptation.adapt(model, plan: plan, round: header.round)
        let local = model.stateDict()
        for name in keepLocal { localState[name] = local.first { $0.name == name }?.value }
        // The trained parameters and the BatchNorm running statistics go back, except what stays
        // here (FedBN's BatchNorm tensors; the statistics under privacy; FedPer / FedRep's personal tensors).
        let trainable = plan.sentTensorNames(of: model)
        let sent = local.map(\.name).filter { trainable.contains($0) }
        var prepared: ModelDelta?
        if plan.codec.topKFraction != nil && plan.privacy == nil && plan.recordPrivacy == nil {
            let delta = try ModelDelta(local: local, global: global.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 }, trainable: trainable)
            prepared = try statisticsForSentWeights(delta, global: global, model: model, plan: plan, feedback: feedback)
        }
        let localAccuracy = config.validation.count > 0 ? Double(Inference.accuracy(model, config.validation)) : .nan
        let guarded = try incoming.map { try adaptation.guardChoice(incoming: $0, adapted: model, plan: plan) }
        stageClock?.mark("after training (BatchNorm statistics, adaptation, scores)")
        let trained = ["local_val_accuracy": localAccuracy, "train_loss": trainLoss].merging(step.metrics) { a, _ in a }
            .merging(Inference.regressionMetrics(model, config.validation, prefix: "local_val_")) { a, _ in a }
            .merging(guarded?.metrics ?? [:]) { a, _ in a }.merging(personal.metrics) { a, _ in a }
        return LocalUpdate(sent: sent, local: Dictionary(uniqueKeysWithValues: local.map { ($0.name, $0.value) }), global: global,
                           spill: spill, prepared: prepared, received: received, trained: trained, accounting: accounting,
                           notes: [step.line, guarded?.line ?? "", personal.line, spillNote ?? ""].filter { !$0.isEmpty })
    }
}
