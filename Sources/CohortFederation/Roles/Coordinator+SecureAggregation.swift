import CohortCheckpoint
import CohortTensor
import CohortTransport
import Foundation

/// Rounds under secure aggregation (protocols/secure-aggregation.md): the coordinator drives the
/// four steps of Bonawitz et al. with the round's participants and learns only the sum of the
/// survivors' fixed-point updates, which it decodes, divides and applies. A round whose steps
/// fall below the threshold (or the quorum) is abandoned before anything that could unmask an
/// input is asked for; nothing is applied and `run` retries it.
extension Coordinator {
    /// Secure-aggregation node ids: 1 + the position of the node's name among every node the
    /// coordinator knows (its secrets, sorted), so an id is stable across rounds and restarts.
    var secureAggregationIDs: [String: UInt32] {
        Dictionary(uniqueKeysWithValues: config.secrets.keys.sorted().enumerated().map { ($0.element, UInt32($0.offset + 1)) })
    }

    /// One attempt at `round`; nil when it failed (the global model is unchanged).
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
        let encoding = try SecureUpdateEncoding(plan: plan, architecture: architecture, participants: n, threshold: t)
        let server = try SecureAggregation.Server(parameters: .init(round: session, threshold: t, vectorLength: encoding.length))
        let ids = secureAggregationIDs
        let totalSamples = participants.reduce(0) { $0 + $1.samples }
        let state = SecureRoundState()
        let expectedVersion = version
        log("\(tag): \(n) participants, threshold \(t), \(encoding.length) words per update, clip \(Self.format(encoding.clipNorm))")
        func abandon(_ group: [Session], _ reason: String) -> RoundRecord? {
            log("\(tag): abandoned: \(reason); nothing was unmasked and the round is not applied")
            for s in group { try? s.conn.send(try SecureAggregationMessages.frame(.secaggAbort, SecureAggregationMessages.AbortMessage(session: session, reason: reason))) }
            return nil
        }
        func checkID(_ s: Session, _ node: UInt32) throws {
            guard ids[s.name] == node else { throw AggregationError("'\(s.name)' speaks as node \(node); its id is \(ids[s.name] ?? 0)") }
        }

        // Step 1: the model with each node's assignment; public keys back.
        var models: [String: SecureOutgoing] = [:]
        for s in participants {
            var header = RoundMessages.ModelHeader(round: round, modelVersion: version, plan: plan, architecture: architecture)
            header.secureAggregation = .init(session: session, node: ids[s.name]!, threshold: t, participants: n, totalSamples: totalSamples)
            models[s.name] = .message(try RoundMessages.modelMessage(.model, header: header, weights: global))
        }
        let u1 = secureStep(participants, "keys", outgoing: models, expect: .secaggKeys, state: state) { s, frame in
            let m = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.KeysMessage.self, session: session)
            try checkID(s, m.keys.node)
            try server.receive(m.keys.value)
        }
        let roster: [SecureAggregation.PublicKeys]
        do { roster = try server.finishAdvertising() } catch { return abandon(u1, "\(error)") }

        // Step 2: the roster out; encrypted share bundles back.
        let rosterFrame = try SecureAggregationMessages.frame(.secaggRoster, SecureAggregationMessages.RosterMessage(session: session, roster: roster.map { .init($0) }))
        let u2 = secureStep(u1, "shares", outgoing: Dictionary(uniqueKeysWithValues: u1.map { ($0.name, .frame(rosterFrame)) }), expect: .secaggShares, state: state) { s, frame in
            let m = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.SharesMessage.self, session: session)
            try checkID(s, m.node)
            try server.receive(m.value)
        }
        do { _ = try server.finishSharing() } catch { return abandon(u2, "\(error)") }

        // Step 3: each node's bundles out; it trains and sends its masked input.
        var bundles: [String: SecureOutgoing] = [:]
        for s in u2 {
            let mine = try server.shares(for: ids[s.name]!)
            bundles[s.name] = .frame(try SecureAggregationMessages.frame(.secaggBundles, SecureAggregationMessages.BundlesMessage(session: session, bundles: mine.map { .init($0) })))
        }
        let dump = config.secureAggregationDump
        let u3 = secureStep(u2, "masked input", outgoing: bundles, expect: .secaggMasked, state: state) { s, frame in
            let (h, body) = try RoundMessages.parse(frame.payload, as: SecureAggregationMessages.MaskedHeader.self)
            guard h.session == session, h.round == round, h.modelVersion == expectedVersion else {
                throw AggregationError("masked input for session \(h.session) / round \(h.round) / model \(h.modelVersion), expected \(session) / \(round) / \(expectedVersion)")
            }
            try checkID(s, h.node)
            guard h.samples == s.samples else { throw AggregationError("masked input claims \(h.samples) samples; the node announced \(s.samples)") }
            let words = try SecureAggregationMessages.words(body, length: encoding.length)
            try server.receive(SecureAggregation.MaskedInput(node: h.node, words: words))
            state.metrics[s.name] = h.metrics.merging(["samples": Double(h.samples)]) { a, _ in a }
            if let dump { try SecureAggregationDump.write(words, to: dump, name: "masked-s\(session)-n\(h.node).u32") }
        }
        let survivors: [UInt32]
        do { survivors = try server.finishMasking() } catch { return abandon(u3, "\(error)") }
        guard survivors.count >= needed else {
            return abandon(u3, "\(survivors.count) masked input(s), fewer than the quorum \(needed)")
        }

        // Step 4: the survivors out; unmasking shares back; the sum.
        let survivorsFrame = try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: survivors))
        let u4 = secureStep(u3, "unmasking", outgoing: Dictionary(uniqueKeysWithValues: u3.map { ($0.name, .frame(survivorsFrame)) }), expect: .secaggUnmask, state: state) { s, frame in
            let m = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.UnmaskMessage.self, session: session)
            try checkID(s, m.node)
            try server.receive(try m.value())
        }
        let sum: [UInt32]
        do { sum = try server.finishUnmasking() } catch { return abandon(u4, "\(error)") }
        if let dump { try SecureAggregationDump.write(sum, to: dump, name: "sum-s\(session).u32") }

        // The mean: DP-FedAvg divides by the n sampled (fixed denominator, equal weights);
        // otherwise by the survivors' share of the samples (sample-weighted FedAvg).
        let names = Dictionary(uniqueKeysWithValues: participants.map { (ids[$0.name]!, $0) })
        let accepted = survivors.map { names[$0]!.name }.sorted()
        let survivorSamples = survivors.reduce(0) { $0 + names[$1]!.samples }
        let divisor = encoding.equalWeights ? Double(n) : Double(survivorSamples) / Double(totalSamples)
        let centralNoise = plan.privacy.map { $0.mode == .central ? GaussianNoise.centralStandardDeviation(noiseMultiplier: $0.noiseMultiplier!, clipNorm: $0.clipNorm) : 0 } ?? 0
        var noise = GaussianNoise.secure()
        let mean = try encoding.mean(sum: sum, divisor: divisor, centralNoise: centralNoise, noise: &noise)
        global = global.map { entry in
            guard let m = mean[entry.name] else { return entry }
            var t = entry.value
            for i in t.data.indices { t.data[i] += m.data[i] }
            return (entry.name, t)
        }
        version += 1

        let metrics = lock.withLock { state.metrics }.filter { accepted.contains($0.key) }
        var weighted = 0.0, total = 0.0
        for m in metrics.values { if let a = m["global_val_accuracy"], a.isFinite, let s = m["samples"] { weighted += a * s; total += s } }
        var rejected = state.rejected
        for s in participants where !accepted.contains(s.name) && rejected[s.name] == nil { rejected[s.name] = "not a survivor" }
        var record = RoundRecord(round: round, participants: participants.map(\.name), accepted: accepted, rejected: rejected,
                                 globalValidationAccuracy: total > 0 ? weighted / total : nil, nodeMetrics: metrics,
                                 bytesDown: state.bytesDown, bytesUp: state.bytesUp, seconds: Date().timeIntervalSince(start),
                                 finishedAt: Date().timeIntervalSince1970)
        record.secureAggregationThreshold = t
        var note = accountPrivacy(&record)
        if let privacy = plan.privacy, privacy.mode == .distributed {
            // Nodes add noise for t summands; the survivors' sum carries σ·√(|U₃|/t) ≥ σ.
            note += String(format: " (noise in the sum σ·%.3g)", (Double(survivors.count) / Double(t)).squareRoot())
        }
        log("\(tag) done: \(survivors.count)/\(n) inputs summed (\(u4.count) unmasked), global val acc "
            + (record.globalValidationAccuracy.map { String(format: "%.3f", $0) } ?? "n/a")
            + ", \(record.bytesUp) bytes up, \(record.bytesDown) down, \(String(format: "%.2f", record.seconds)) s" + note)
        return record
    }

    /// Under `plan.privacy`: steps the accountant for a completed round, fills the record's
    /// privacy fields, and returns the log note (empty without privacy).
    func accountPrivacy(_ record: inout RoundRecord) -> String {
        guard let privacy = plan.privacy else { return "" }
        accountant.step(noiseMultiplier: privacy.noiseMultiplier!, sampleRate: Self.privacySampleRate)
        record.noiseMultiplier = privacy.noiseMultiplier
        record.sampleRate = Self.privacySampleRate
        record.delta = privacy.delta
        record.epsilon = accountant.epsilon(delta: privacy.delta)
        return ", ε = \(Self.format(record.epsilon!)) at δ = \(privacy.delta)" + (privacy.targetEpsilon.map { " (budget \($0))" } ?? "")
    }

    /// One step: sends every node of `group` its frame and waits, in parallel, for its reply of
    /// `type`, until all have answered or the round timeout passed. `accept` (parse, check, hand
    /// to the server) runs under the state's lock. A node whose exchange fails or is late is
    /// dropped (it may reconnect) with the reason recorded; returns the nodes that completed.
    private func secureStep(_ group: [Session], _ step: String, outgoing: [String: SecureOutgoing], expect type: MessageType,
                            state: SecureRoundState, accept: @escaping (Session, Frame) throws -> Void) -> [Session] {
        state.begin()
        let handler = HandOff(accept)
        let threads = DispatchGroup()
        for member in group {
            threads.enter()
            let handOff = HandOff((member, outgoing[member.name]!))
            Thread { [self] in
                defer { threads.leave() }
                let (session, outgoing) = handOff.value
                do {
                    state.sent(try outgoing.send(on: session.conn))
                    let reply = try Handshake.expect(session.conn, type, timeout: config.roundTimeout)
                    try state.complete(session.name, bytes: reply.payload.count) { try handler.value(session, reply) }
                } catch {
                    state.fail(session.name, "secure aggregation, \(step): \(error)")
                }
            }.start()
        }
        _ = threads.wait(timeout: .now() + config.roundTimeout + 2)
        let completed = state.close()
        for s in group where !completed.contains(s.name) {
            state.fail(s.name, "secure aggregation, \(step): no reply within \(config.roundTimeout) s")
            log("coordinator: '\(s.name)' left the secure round at step '\(step)': \(state.rejected[s.name] ?? "?"); dropping its connection")
            dropSession(s)
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
