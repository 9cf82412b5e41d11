import CohortCheckpoint
import CohortTensor
import CohortTransport
import Foundation

/// Rounds under secure aggregation (protocols/secure-aggregation.md): the coordinator drives the
/// four steps of Bonawitz et al. with the round's participants and learns only the sum of the
/// survivors' fixed-point updates, which it decodes, divides and applies.
///
/// An attempt whose steps fall below the threshold (or the quorum) before step 4 is abandoned:
/// nothing that could unmask an input has been asked for, nothing is applied or accounted, and
/// `run` retries the round. Sending the survivors (step 4) is the release point
/// (`Coordinator+Release`): the attempt is accounted and journaled first, and if it fails after
/// that, the round ends unapplied and the run moves on to the next round.
extension Coordinator {
    /// Secure-aggregation node ids: 1 + the position of the node's name among every node the
    /// coordinator knows (its secrets, sorted), so an id is stable across rounds and restarts.
    var secureAggregationIDs: [String: UInt32] {
        Dictionary(uniqueKeysWithValues: config.secrets.keys.sorted().enumerated().map { ($0.element, UInt32($0.offset + 1)) })
    }

    /// One attempt at `round`; nil when it failed before the release point (the global model is
    /// unchanged, nothing accounted). A record marked `unapplied` when it failed after it.
    func runSecureRound(_ round: Int, attempt: Int) throws -> RoundRecord? {
        let start = Date()
        let secure = plan.secureAggregation!
        let participants = sample(lock.withLock { sessions.values.sorted { $0.name < $1.name } }, round: round)
        let n = participants.count, t = secure.threshold(participants: n)
        let needed = max(t, config.quorum ?? config.minNodes)
        let session = UInt64(round) << 8 | UInt64(attempt & 0xFF)
        let tag = "coordinator: round \(round) (secure aggregation session \(session))"
        guard n >= needed else {
            log("\(tag): \(n) participant(s), needs \(needed) (threshold \(t))")
            return nil
        }
        let encoding = try SecureUpdateEncoding(plan: roundPlan, architecture: architecture, participants: n, threshold: t)
        let server = try SecureAggregation.Server(parameters: .init(round: session, threshold: t, vectorLength: encoding.length))
        let ids = secureAggregationIDs
        let totalSamples = participants.reduce(0) { $0 + $1.samples }
        let state = SecureRoundState()
        let expectedVersion = version
        log("\(tag): \(n) participants, threshold \(t), \(encoding.length) words per update, clip \(Self.format(encoding.clipNorm))")
        /// Before the release point: the nodes still in the attempt are told, and it is retried.
        func abandon(_ group: [Session], _ reason: String) -> RoundRecord? {
            log("\(tag): abandoned: \(reason); nothing was unmasked and the round is not applied")
            for s in group { try? s.conn.send(try SecureAggregationMessages.frame(.secaggAbort, SecureAggregationMessages.AbortMessage(session: session, reason: reason))) }
            return nil
        }
        func checkID(_ s: Session, _ node: UInt32) throws {
            guard ids[s.name] == node else { throw AggregationError("'\(s.name)' speaks as node \(node); its id is \(ids[s.name] ?? 0)") }
        }
        func parse<H: Decodable & SessionBound>(_ type: MessageType, _ payload: [UInt8], as: H.Type) throws -> H {
            try SecureAggregationMessages.parse(Frame(version: ProtocolVersion.current, type: type.rawValue, payload: payload), as: H.self, session: session)
        }

        // Step 1: the model with each node's assignment; public keys back.
        var models: [String: SecureOutgoing] = [:]
        var cache: [Int: StreamedMessage] = [:]
        var deltaModels = 0
        for s in participants {
            var header = RoundMessages.ModelHeader(round: round, modelVersion: version, plan: roundPlan, architecture: architecture)
            header.secureAggregation = .init(session: session, node: ids[s.name]!, threshold: t, participants: n, totalSamples: totalSamples)
            let (message, delta) = try modelMessage(.model, header: header, for: s, cache: &cache)
            models[s.name] = .message(message)
            deltaModels += delta ? 1 : 0
        }
        let u1 = secureStep(participants, "keys", session: session, outgoing: models, expect: .secaggKeys, state: state) { s, payload in
            let m = try parse(.secaggKeys, payload, as: SecureAggregationMessages.KeysMessage.self)
            try checkID(s, m.keys.node)
            try server.receive(m.keys.value)
            return nil
        }
        let roster: [SecureAggregation.PublicKeys]
        do { roster = try server.finishAdvertising() } catch { return abandon(u1, "\(error)") }

        // Step 2: the roster out; encrypted share bundles back.
        let rosterFrame = try SecureAggregationMessages.frame(.secaggRoster, SecureAggregationMessages.RosterMessage(session: session, roster: roster.map { .init($0) }))
        let u2 = secureStep(u1, "shares", session: session, outgoing: Dictionary(uniqueKeysWithValues: u1.map { ($0.name, .frame(rosterFrame)) }),
                            expect: .secaggShares, state: state) { s, payload in
            let m = try parse(.secaggShares, payload, as: SecureAggregationMessages.SharesMessage.self)
            try checkID(s, m.node)
            try server.receive(m.value)
            return nil
        }
        do { _ = try server.finishSharing() } catch { return abandon(u2, "\(error)") }

        // Step 3: each node's bundles out; it trains and streams its masked input.
        var bundles: [String: SecureOutgoing] = [:]
        for s in u2 {
            let mine = try server.shares(for: ids[s.name]!)
            bundles[s.name] = .frame(try SecureAggregationMessages.frame(.secaggBundles, SecureAggregationMessages.BundlesMessage(session: session, bundles: mine.map { .init($0) })))
        }
        let dump = config.secureAggregationDump
        let u3 = secureStep(u2, "masked input", session: session, outgoing: bundles, expect: .secaggMasked,
                            streamedBudget: SecureAggregationMessages.maskedBudget(length: encoding.length), state: state) { s, payload in
            let (h, body) = try RoundMessages.parse(payload, as: SecureAggregationMessages.MaskedHeader.self)
            guard h.session == session, h.round == round, h.modelVersion == expectedVersion else {
                throw AggregationError("masked input for session \(h.session) / round \(h.round) / model \(h.modelVersion), expected \(session) / \(round) / \(expectedVersion)")
            }
            try checkID(s, h.node)
            guard h.samples == s.samples else { throw AggregationError("masked input claims \(h.samples) samples; the node announced \(s.samples)") }
            self.acknowledge(s, version: expectedVersion)
            let words = try SecureAggregationMessages.words(body, length: encoding.length)
            // Dumped first: a node is in U₃ only once everything about its input is done.
            if let dump { try SecureAggregationDump.write(words, to: dump, name: "masked-s\(session)-n\(h.node).u32") }
            try server.receive(SecureAggregation.MaskedInput(node: h.node, words: words))
            return h.metrics.merging(["samples": Double(h.samples)]) { a, _ in a }
        }
        let survivors: [UInt32]
        do { survivors = try server.finishMasking() } catch { return abandon(u3, "\(error)") }
        guard survivors.count >= needed else {
            return abandon(u3, "\(survivors.count) masked input(s), fewer than the quorum \(needed)")
        }

        // The release point: journal and account the attempt before the survivors go out.
        let names = Dictionary(uniqueKeysWithValues: participants.map { (ids[$0.name]!, $0) })
        let accepted = survivors.map { names[$0]!.name }.sorted()
        var record = RoundRecord(round: round, participants: participants.map(\.name), accepted: accepted, rejected: [:],
                                 globalValidationAccuracy: nil, nodeMetrics: [:], bytesDown: 0, bytesUp: 0, seconds: 0, finishedAt: 0)
        record.deltaModels = deltaModels
        func fill(_ record: inout RoundRecord) {
            let seen = state.snapshot()
            var rejected = seen.rejected
            for s in participants where !accepted.contains(s.name) && rejected[s.name] == nil { rejected[s.name] = "not a survivor" }
            record.rejected = rejected
            record.nodeMetrics = seen.metrics.filter { accepted.contains($0.key) }
            record.bytesDown = seen.bytesDown
            record.bytesUp = seen.bytesUp
            record.seconds = Date().timeIntervalSince(start)
            record.finishedAt = Date().timeIntervalSince1970
        }
        fill(&record)
        record.secureAggregationThreshold = t
        if plan.privacy != nil { record.denominator = Double(n) }
        var note = accountPrivacy(&record)
        record.unapplied = "released (the survivors were announced); the coordinator stopped before the round's outcome was journaled"
        try journalRelease(record)

        // Step 4: the survivors out; unmasking shares back; the sum.
        let survivorsFrame = try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: survivors))
        let u4 = secureStep(u3, "unmasking", session: session, outgoing: Dictionary(uniqueKeysWithValues: u3.map { ($0.name, .frame(survivorsFrame)) }),
                            expect: .secaggUnmask, state: state) { s, payload in
            let m = try parse(.secaggUnmask, payload, as: SecureAggregationMessages.UnmaskMessage.self)
            try checkID(s, m.node)
            try server.receive(try m.value())
            return nil
        }
        let sum: [UInt32]
        do { sum = try server.finishUnmasking() } catch {
            // No ABORT: the nodes that answered are done with the attempt (the others were dropped).
            fill(&record)
            record.unapplied = "secure aggregation failed after the survivors were announced: \(error)"
            log("\(tag): failed after the survivors were announced: \(error); the sum is not applied, the release is accounted\(note), "
                + "and the run goes on with the next round on the unchanged model")
            return record
        }
        if let dump { try SecureAggregationDump.write(sum, to: dump, name: "sum-s\(session).u32") }

        // The mean: DP-FedAvg divides by the n sampled (fixed denominator, equal weights);
        // otherwise by the survivors' share of the samples (sample-weighted FedAvg).
        let survivorSamples = survivors.reduce(0) { $0 + names[$1]!.samples }
        let divisor = encoding.equalWeights ? Double(n) : Double(survivorSamples) / Double(totalSamples)
        let centralNoise = plan.privacy.map { $0.mode == .central ? GaussianNoise.centralStandardDeviation(noiseMultiplier: encoding.noiseMultiplier!, clipNorm: encoding.clipNorm) : 0 } ?? 0
        var noise = GaussianNoise(random: roundRandom(round, "update-noise"))
        let mean = try encoding.mean(sum: sum, divisor: divisor, centralNoise: centralNoise, noise: &noise)
        var countNoise = GaussianNoise(random: roundRandom(round, "clip-count-noise"))
        let centredBits = try encoding.centredBitSum(sum: sum, centralNoise: centralNoise, noise: &countNoise)
        advanceGlobal(to: global.map { entry in
            guard let m = mean[entry.name] else { return entry }
            var t = entry.value
            for i in t.data.indices { t.data[i] += m.data[i] }
            return (entry.name, t)
        })

        fill(&record)
        record.unapplied = nil
        var weighted = 0.0, total = 0.0
        for m in record.nodeMetrics.values { if let a = m["global_val_accuracy"], a.isFinite, let s = m["samples"] { weighted += a * s; total += s } }
        record.globalValidationAccuracy = total > 0 ? weighted / total : nil
        if let centredBits, let adaptive = plan.privacy?.adaptiveClipping {
            // m = the n sampled (fixed fraction): b̄ = ½ + (Σ (b − ½) + noise) / m.
            note += moveClipNorm(adaptive, noisyFraction: 0.5 + centredBits / Double(n), updateNoiseMultiplier: encoding.noiseMultiplier!, record: &record)
        }
        if let privacy = plan.privacy, privacy.mode == .distributed {
            // Nodes add noise for t summands; the survivors' sum carries σ·√(|U₃|/t) ≥ σ.
            note += String(format: " (noise in the sum σ·%.3g)", (Double(survivors.count) / Double(t)).squareRoot())
        }
        log("\(tag) done: \(survivors.count)/\(n) inputs summed (\(u4.count) unmasked), global val acc "
            + (record.globalValidationAccuracy.map { String(format: "%.3f", $0) } ?? "n/a")
            + ", \(record.bytesUp) bytes up, \(record.bytesDown) down, \(String(format: "%.2f", record.seconds)) s" + note)
        return record
    }

    /// Under `plan.privacy`: steps the accountant for a released round, fills the record's
    /// privacy fields, and returns the log note (empty without privacy).
    func accountPrivacy(_ record: inout RoundRecord) -> String {
        guard let privacy = plan.privacy else { return "" }
        let q = Self.accountedSampleRate(privacy)
        accountant.step(noiseMultiplier: privacy.noiseMultiplier!, sampleRate: q)
        record.noiseMultiplier = privacy.noiseMultiplier
        record.sampleRate = q
        record.delta = privacy.delta
        record.epsilon = accountant.epsilon(delta: privacy.delta)
        return ", ε = \(Self.format(record.epsilon!)) at δ = \(privacy.delta)" + (privacy.targetEpsilon.map { " (budget \($0))" } ?? "")
    }

    /// A node left the attempt on its own (SECAGG_LEAVE) with this reason.
    private struct LeftRound: Error, CustomStringConvertible {
        let reason: String
        var description: String { "left the round: \(reason)" }
    }

    /// One step: sends every node of `group` its frame and waits, in parallel, for its reply of
    /// `type` (a single frame within `SecureAggregationMessages.replyLimit`, or with
    /// `streamedBudget` a streamed message of at most that many bytes), until all have answered
    /// or the round timeout passed. `accept` (parse, check, hand to the server; it may return the
    /// node's metrics) runs under the state's lock. A node whose exchange fails or is late is
    /// dropped (it may reconnect) with the reason recorded; one that sends SECAGG_LEAVE leaves the
    /// round but keeps its connection. Returns the nodes that completed the step.
    private func secureStep(_ group: [Session], _ step: String, session: UInt64, outgoing: [String: SecureOutgoing], expect type: MessageType,
                            streamedBudget: Int? = nil, state: SecureRoundState,
                            accept: @escaping (Session, [UInt8]) throws -> [String: Double]?) -> [Session] {
        state.begin()
        let handler = HandOff(accept)
        let threads = DispatchGroup()
        let limit = SecureAggregationMessages.replyLimit(type, nodes: group.count)
        for member in group {
            threads.enter()
            let handOff = HandOff((member, outgoing[member.name]!))
            Thread { [self] in
                defer { threads.leave() }
                let (node, outgoing) = handOff.value
                do {
                    state.sent(try outgoing.send(on: node.conn))
                    let frame = try node.conn.receive(timeout: config.roundTimeout, maxPayload: max(limit, SecureAggregationMessages.replyLimit(.secaggLeave, nodes: 1)))
                    switch MessageType(rawValue: frame.type) {
                    case type:
                        break
                    case .secaggLeave:
                        let m = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.LeaveMessage.self, session: session)
                        throw LeftRound(reason: m.reason)
                    case .error:
                        let message = (try? JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(frame.payload)))?.message ?? "unreadable ERROR frame"
                        throw TransportError("refused by \(node.conn.stream.peer): \(message)")
                    default:
                        throw TransportError("expected \(type) (type \(type.rawValue)), got type \(frame.type)")
                    }
                    let payload = try streamedBudget.map { try node.conn.receiveStreamedBytes(frame, budget: $0, timeout: config.roundTimeout) } ?? frame.payload
                    try state.complete(node.name, bytes: payload.count) { try handler.value(node, payload) }
                } catch let left as LeftRound {
                    state.leave(node.name, "secure aggregation, \(step): \(left)")
                } catch {
                    state.fail(node.name, "secure aggregation, \(step): \(error)")
                }
            }.start()
        }
        _ = threads.wait(timeout: .now() + config.roundTimeout + 2)
        let completed = state.close()
        for s in group where !completed.contains(s.name) {
            state.fail(s.name, "secure aggregation, \(step): no reply within \(config.roundTimeout) s")
            let seen = state.snapshot()
            if seen.left.contains(s.name) {
                log("coordinator: '\(s.name)' left the secure round at step '\(step)': \(seen.rejected[s.name] ?? "?"); it stays connected")
            } else {
                log("coordinator: '\(s.name)' left the secure round at step '\(step)': \(seen.rejected[s.name] ?? "?"); dropping its connection")
                dropSession(s)
            }
        }
        return group.filter { completed.contains($0.name) }
    }
}

/// What one secure-aggregation step sends a node: a SECAGG_* frame, or the round's MODEL as a
/// streamed message.
enum SecureOutgoing {
    case frame(Frame)
    case message(StreamedMessage)

    /// Sends it; returns the bytes of message sent.
    func send(on conn: FramedConnection) throws -> Int {
        switch self {
        case .frame(let f):
            try conn.send(f)
            return f.payload.count
        case .message(let m):
            try conn.send(m, version: ProtocolVersion.current)
            return m.length
        }
    }
}
