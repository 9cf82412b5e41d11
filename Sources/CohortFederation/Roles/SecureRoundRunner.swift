import CohortCheckpoint
import CohortTensor
import CohortTransport
import Foundation

/// One attempt at a round under secure aggregation (protocols/secure-aggregation.md): the
/// coordinator drives the four steps of Bonawitz et al. with the round's participants and
/// learns only the sum of the survivors' fixed-point updates, which it decodes, divides and
/// applies. One method per step: `advertiseKeys`, `shareKeys`, `collectMaskedInputs`,
/// `release`, `unmask`, `apply`.
///
/// An attempt whose steps fall below the threshold (or the quorum) before step 4 is abandoned:
/// nothing that could unmask an input has been asked for, nothing is applied or accounted, and
/// `run` retries the round. Sending the survivors (step 4) is the release point
/// (`Coordinator+Release`): the attempt is accounted and journaled first, and if it fails after
/// that, the round ends unapplied and the run moves on to the next round.
final class SecureRoundRunner: @unchecked Sendable {
    let coordinator: Coordinator
    let round: Int
    /// The secure-aggregation session number: the round and the attempt.
    let session: UInt64
    private let start = Date()
    private let tag: String
    private let ids: [String: UInt32]
    private let expectedVersion: Int
    // Set by `run` before the steps (the attempt's participants and parameters).
    private var participants: [Coordinator.Session] = []
    private var threshold = 0
    private var needed = 0
    private var totalSamples = 0
    /// Each participant's sample weight: its announced count, capped at its expected count.
    private var weights: [String: Int] = [:]
    private var sampleChecks: [String: ExpectedSampleCheck] = [:]
    private var encoding: SecureUpdateEncoding!
    private var server: SecureAggregation.Server!
    private var deltaModels = 0
    /// The public keys of step 1, sent in step 2.
    private var roster: [SecureAggregation.PublicKeys] = []
    private var note = ""

    init(coordinator: Coordinator, round: Int, attempt: Int) {
        self.coordinator = coordinator
        self.round = round
        session = UInt64(round) << 8 | UInt64(attempt & 0xFF)
        tag = "coordinator: round \(round) (secure aggregation session \(session))"
        ids = coordinator.secureAggregationIDs
        expectedVersion = coordinator.version
    }

    /// Runs the attempt; nil when it failed before the release point (the global model is
    /// unchanged, nothing accounted), a record marked `unapplied` when it failed after it.
    func run() throws -> Coordinator.RoundRecord? {
        let c = coordinator
        let secure = c.plan.secureAggregation!
        participants = c.sample(c.state.withLock { $0.sortedSessions }, round: round)
        let n = participants.count
        threshold = secure.threshold(participants: n)
        if let warning = try secure.checkThreshold(participants: n) { c.log("\(tag): \(warning)") }
        needed = max(threshold, c.config.quorum ?? c.config.minNodes)
        guard n >= needed else {
            c.log("\(tag): \(n) participant(s), needs \(needed) (threshold \(threshold))")
            return nil
        }
        encoding = try SecureUpdateEncoding(plan: c.roundPlan, architecture: c.architecture, participants: n, threshold: threshold)
        server = try SecureAggregation.Server(parameters: .init(round: session, threshold: threshold, vectorLength: encoding.length))
        // Claims over the secrets file's expected counts are capped (a masked input cannot be
        // left out alone, so a plan's "reject" caps too); the node is told its weight.
        for s in participants {
            let check = ExpectedSampleCheck(claimed: s.samples, expected: c.config.expectedSamples[s.name], action: .clip)
            sampleChecks[s.name] = check
            weights[s.name] = check.weight(claimed: s.samples)
            if check != .within { c.log("\(tag): '\(s.name)' \(check)") }
        }
        totalSamples = participants.reduce(0) { $0 + weights[$1.name]! }
        c.state.withLock { $0.secure = SecureRoundProgress(session: session) }
        defer { c.state.withLock { if $0.secure?.session == session { $0.secure = nil } } }
        c.log("\(tag): \(n) participants, threshold \(threshold), \(encoding.length) words per update, clip \(Coordinator.format(encoding.clipNorm))")

        guard let u1 = try advertiseKeys() else { return nil }
        guard let u2 = try shareKeys(u1) else { return nil }
        guard let (u3, survivors) = try collectMaskedInputs(u2) else { return nil }
        var record = try release(survivors)
        guard let sum = try unmask(u3, survivors: survivors, record: &record) else { return record }
        try apply(sum, survivors: survivors, record: &record)
        return record
    }

    // MARK: - Steps

    /// Step 1: the model with each node's assignment out; public keys back. Nil: abandoned.
    func advertiseKeys() throws -> [Coordinator.Session]? {
        let c = coordinator
        var models: [String: SecureOutgoing] = [:]
        var cache: [Int: StreamedMessage] = [:]
        for s in participants {
            var header = RoundMessages.ModelHeader(round: round, modelVersion: c.version, plan: c.roundPlan, architecture: c.architecture)
            header.secureAggregation = .init(session: session, node: ids[s.name]!, threshold: threshold, participants: participants.count, totalSamples: totalSamples,
                                                         samples: weights[s.name])
            let (message, delta) = try c.modelMessage(.model, header: header, for: s, cache: &cache)
            models[s.name] = .message(message)
            deltaModels += delta ? 1 : 0
        }
        let server = self.server!
        let u1 = step(participants, "keys", outgoing: models, expect: .secaggKeys) { [self] s, payload, state in
            let m = try parse(.secaggKeys, payload, as: SecureAggregationMessages.KeysMessage.self)
            try checkID(s, m.keys.node)
            try server.receive(m.keys.value)
            return nil
        }
        do { roster = try server.finishAdvertising() } catch { return abandon(u1, "\(error)") }
        return u1
    }

    /// Step 2: the roster out; encrypted share bundles back. Nil: abandoned.
    func shareKeys(_ u1: [Coordinator.Session]) throws -> [Coordinator.Session]? {
        let server = self.server!
        let rosterFrame = try SecureAggregationMessages.frame(.secaggRoster, SecureAggregationMessages.RosterMessage(session: session, roster: roster.map { .init($0) }))
        let u2 = step(u1, "shares", outgoing: Dictionary(uniqueKeysWithValues: u1.map { ($0.name, .frame(rosterFrame)) }), expect: .secaggShares) { [self] s, payload, state in
            let m = try parse(.secaggShares, payload, as: SecureAggregationMessages.SharesMessage.self)
            try checkID(s, m.node)
            try server.receive(m.value)
            return nil
        }
        do { _ = try server.finishSharing() } catch { return abandon(u2, "\(error)") }
        return u2
    }

    /// Step 3: each node's bundles out; it trains and streams its masked input. Returns the
    /// nodes that sent one and the survivors; nil: abandoned.
    func collectMaskedInputs(_ u2: [Coordinator.Session]) throws -> (u3: [Coordinator.Session], survivors: [UInt32])? {
        let server = self.server!, encoding = self.encoding!
        var bundles: [String: SecureOutgoing] = [:]
        for s in u2 {
            let mine = try server.shares(for: ids[s.name]!)
            bundles[s.name] = .frame(try SecureAggregationMessages.frame(.secaggBundles, SecureAggregationMessages.BundlesMessage(session: session, bundles: mine.map { .init($0) })))
        }
        let dump = coordinator.config.secureAggregationDump
        let u3 = step(u2, "masked input", outgoing: bundles, expect: .secaggMasked,
                      streamedBudget: SecureAggregationMessages.maskedBudget(length: encoding.length)) { [self] s, payload, state in
            let (h, body) = try RoundMessages.parse(payload, as: SecureAggregationMessages.MaskedHeader.self)
            guard h.session == session, h.round == round, h.modelVersion == expectedVersion else {
                throw AggregationError("masked input for session \(h.session) / round \(h.round) / model \(h.modelVersion), expected \(session) / \(round) / \(expectedVersion)")
            }
            try checkID(s, h.node)
            guard h.samples == s.samples else { throw AggregationError("masked input claims \(h.samples) samples; the node announced \(s.samples)") }
            state.acknowledge(s, version: expectedVersion)
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
        return (u3, survivors)
    }

    /// The release point: accounts the attempt and journals its record (marked unapplied)
    /// before the survivors go out.
    func release(_ survivors: [UInt32]) throws -> Coordinator.RoundRecord {
        let c = coordinator
        let accepted = names(survivors).sorted()
        var record = Coordinator.RoundRecord(round: round, participants: participants.map(\.name), accepted: accepted, rejected: [:],
                                             globalValidationAccuracy: nil, nodeMetrics: [:], bytesDown: 0, bytesUp: 0, seconds: 0, finishedAt: 0)
        record.deltaModels = deltaModels
        if c.config.noiseSeed != nil { record.testNoiseSeeded = true }
        fill(&record)
        record.secureAggregationThreshold = threshold
        if c.plan.privacy != nil { record.denominator = Double(participants.count) }
        note = c.accountPrivacy(&record)
        record.unapplied = "released (the survivors were announced); the coordinator stopped before the round's outcome was journaled"
        try c.journalRelease(record)
        return record
    }

    /// Step 4: the survivors out; unmasking shares back; the sum. Nil (with `record` marked
    /// unapplied) when the sum cannot be rebuilt.
    func unmask(_ u3: [Coordinator.Session], survivors: [UInt32], record: inout Coordinator.RoundRecord) throws -> [UInt32]? {
        let server = self.server!
        var survivorsFrame = try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: survivors))
        var asked = u3
        if coordinator.plan.secureAggregation?.consistencyCheck == true {
            // Consistency round: every survivor signs the set; all signatures go back with it.
            let signers = step(u3, "consistency", outgoing: Dictionary(uniqueKeysWithValues: u3.map { ($0.name, .frame(survivorsFrame)) }),
                               expect: .secaggSignature) { [self] s, payload, state in
                let m = try parse(.secaggSignature, payload, as: SecureAggregationMessages.SignatureMessage.self)
                try checkID(s, m.node)
                guard m.signature.count == 64 else { throw AggregationError("a signature of \(m.signature.count) bytes, not 64") }
                signatures[m.node] = m
                return nil
            }
            let collected = signers.compactMap { signatures[ids[$0.name]!] }
            guard collected.count >= threshold else {
                fill(&record)
                record.unapplied = "secure aggregation failed after the survivors were announced: \(collected.count) signature(s) of the survivor set, fewer than t = \(threshold)"
                coordinator.log("\(tag): consistency round failed (\(collected.count) signatures, t = \(threshold)); the sum is not applied, the release is accounted\(note)")
                return nil
            }
            survivorsFrame = try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: survivors, signatures: collected))
            asked = signers
        }
        let u4 = step(asked, "unmasking", outgoing: Dictionary(uniqueKeysWithValues: asked.map { ($0.name, .frame(survivorsFrame)) }), expect: .secaggUnmask) { [self] s, payload, state in
            let m = try parse(.secaggUnmask, payload, as: SecureAggregationMessages.UnmaskMessage.self)
            try checkID(s, m.node)
            try server.receive(try m.value())
            return nil
        }
        unmasked = u4.count
        do {
            let sum = try server.finishUnmasking()
            if let dump = coordinator.config.secureAggregationDump { try SecureAggregationDump.write(sum, to: dump, name: "sum-s\(session).u32") }
            return sum
        } catch {
            // No ABORT: the nodes that answered are done with the attempt (the others were dropped).
            fill(&record)
            record.unapplied = "secure aggregation failed after the survivors were announced: \(error)"
            coordinator.log("\(tag): failed after the survivors were announced: \(error); the sum is not applied, the release is accounted\(note), "
                + "and the run goes on with the next round on the unchanged model")
            return nil
        }
    }
    private var unmasked = 0
    /// The consistency round's signatures by node id (written under the state's lock).
    private var signatures: [UInt32: SecureAggregationMessages.SignatureMessage] = [:]

    /// The mean of the survivors' inputs becomes the next global model. DP-FedAvg divides by
    /// the n sampled (fixed denominator, equal weights); otherwise by the survivors' share of the
    /// samples (sample-weighted FedAvg).
    func apply(_ sum: [UInt32], survivors: [UInt32], record: inout Coordinator.RoundRecord) throws {
        let c = coordinator, encoding = self.encoding!, n = participants.count
        let byID = Dictionary(uniqueKeysWithValues: participants.map { (ids[$0.name]!, $0) })
        let survivorSamples = survivors.reduce(0) { $0 + weights[byID[$1]!.name]! }
        let divisor = encoding.equalWeights ? Double(n) : Double(survivorSamples) / Double(totalSamples)
        let centralNoise = c.plan.privacy.map { $0.mode == .central ? GaussianNoise.centralStandardDeviation(noiseMultiplier: encoding.noiseMultiplier!, clipNorm: encoding.clipNorm) : 0 } ?? 0
        var noise = GaussianNoise(random: c.roundRandom(round, "update-noise"))
        let mean = try encoding.mean(sum: sum, divisor: divisor, centralNoise: centralNoise, noise: &noise)
        var countNoise = GaussianNoise(random: c.roundRandom(round, "clip-count-noise"))
        let centredBits = try encoding.centredBitSum(sum: sum, centralNoise: centralNoise, noise: &countNoise)
        c.advanceGlobal(to: c.global.map { entry in
            guard let m = mean[entry.name] else { return entry }
            var t = entry.value
            for i in t.data.indices { t.data[i] += m.data[i] }
            return (entry.name, t)
        })
        fill(&record)
        record.unapplied = nil
        RoundRecordFinisher(start: start).finish(&record)
        if let centredBits, let adaptive = c.plan.privacy?.adaptiveClipping {
            // m = the n sampled (fixed fraction): b̄ = ½ + (Σ (b − ½) + noise) / m.
            note += c.moveClipNorm(adaptive, noisyFraction: 0.5 + centredBits / Double(n), updateNoiseMultiplier: encoding.noiseMultiplier!, record: &record)
        }
        if let privacy = c.plan.privacy, privacy.mode == .distributed {
            // Nodes add noise for t summands; the survivors' sum carries σ·√(|U₃|/t) ≥ σ.
            note += String(format: " (noise in the sum σ·%.3g)", (Double(survivors.count) / Double(threshold)).squareRoot())
        }
        c.log("\(tag) done: \(survivors.count)/\(n) inputs summed (\(unmasked) unmasked), global val acc "
            + RoundRecordFinisher.accuracyText(record)
            + ", \(record.bytesUp) bytes up, \(record.bytesDown) down, \(String(format: "%.2f", record.seconds)) s" + note)
    }

    // MARK: - Shared by the steps

    /// The names of the nodes with these secure-aggregation ids.
    private func names(_ survivors: [UInt32]) -> [String] {
        let byID = Dictionary(uniqueKeysWithValues: participants.map { (ids[$0.name]!, $0.name) })
        return survivors.map { byID[$0]! }
    }

    /// Copies what the attempt gathered into `record`: reasons, the survivors' metrics, bytes, timing.
    private func fill(_ record: inout Coordinator.RoundRecord) {
        let accepted = record.accepted
        let seen = coordinator.state.withLock { $0.secure ?? SecureRoundProgress(session: session) }
        var rejected = seen.rejected
        for s in participants where !accepted.contains(s.name) && rejected[s.name] == nil { rejected[s.name] = "not a survivor" }
        record.rejected = rejected
        let capped = sampleChecks.filter { if case .capped = $0.value { return true } else { return false } }.mapValues(\.description)
        record.screening = capped.isEmpty ? nil : capped
        record.nodeMetrics = seen.metrics.filter { accepted.contains($0.key) }
        record.bytesDown = seen.bytesDown
        record.bytesUp = seen.bytesUp
        record.seconds = Date().timeIntervalSince(start)
        record.finishedAt = Date().timeIntervalSince1970
    }

    /// Before the release point: the nodes still in the attempt are told, and it is retried.
    private func abandon<T>(_ group: [Coordinator.Session], _ reason: String) -> T? {
        coordinator.log("\(tag): abandoned: \(reason); nothing was unmasked and the round is not applied")
        for s in group { try? s.conn.send(try SecureAggregationMessages.frame(.secaggAbort, SecureAggregationMessages.AbortMessage(session: session, reason: reason))) }
        return nil
    }

    private func checkID(_ s: Coordinator.Session, _ node: UInt32) throws {
        guard ids[s.name] == node else { throw AggregationError("'\(s.name)' speaks as node \(node); its id is \(ids[s.name] ?? 0)") }
    }

    private func parse<H: Decodable & SessionBound>(_ type: MessageType, _ payload: [UInt8], as: H.Type) throws -> H {
        try SecureAggregationMessages.parse(Frame(version: ProtocolVersion.current, type: type.rawValue, payload: payload), as: H.self, session: session)
    }

    /// Runs `body` on this attempt's progress under the state's lock; nil once the attempt is over.
    @discardableResult
    func withProgress<R: Sendable>(_ body: (inout SecureRoundProgress, inout CoordinatorState) throws -> R) throws -> R? {
        try coordinator.state.withLock { s throws -> R? in
            guard var progress = s.secure, progress.session == session else { return nil }
            s.secure = nil   // moved out while `body` runs, so both can be mutated
            defer { s.secure = progress }
            return try body(&progress, &s)
        }
    }

    /// A node left the attempt on its own (SECAGG_LEAVE) with this reason code (only the code is
    /// logged and journaled).
    private struct LeftRound: Error, CustomStringConvertible {
        let reason: SecureAggregationMessages.LeaveReason
        var description: String { "left the round: \(reason.rawValue)" }
    }

    /// Parses, checks and hands a node's reply to the server, under the state's lock (so it
    /// may update the coordinator's state, e.g. the version the node acknowledged); may return
    /// the node's metrics.
    typealias Accept = (Coordinator.Session, [UInt8], inout CoordinatorState) throws -> [String: Double]?

    /// One step: sends every node of `group` its frame and waits, in parallel, for its reply of
    /// `type` (a single frame within `SecureAggregationMessages.replyLimit`, or with
    /// `streamedBudget` a streamed message of at most that many bytes), until all have answered
    /// or the round timeout passed. `accept` runs under the state's lock while the step is open.
    /// A node whose exchange fails or is late is dropped (it may reconnect) with the reason
    /// recorded; one that sends SECAGG_LEAVE leaves the round but keeps its connection. Returns
    /// the nodes that completed the step.
    private func step(_ group: [Coordinator.Session], _ step: String, outgoing: [String: SecureOutgoing], expect type: MessageType,
                      streamedBudget: Int? = nil, accept: @escaping Accept) -> [Coordinator.Session] {
        let c = coordinator, session = self.session, timeout = c.config.roundTimeout
        _ = try? withProgress { progress, _ in progress.begin() }
        let handler = HandOff(accept)
        let threads = DispatchGroup()
        let limit = SecureAggregationMessages.replyLimit(type, nodes: group.count)
        for member in group {
            threads.enter()
            let handOff = HandOff((member, outgoing[member.name]!))
            c.spawn { [self] in
                defer { threads.leave() }
                let (node, outgoing) = handOff.value
                do {
                    let sent = try outgoing.send(on: node.conn)
                    _ = try? withProgress { progress, _ in progress.sent(sent) }
                    let frame = try node.conn.receive(timeout: timeout, maxPayload: max(limit, SecureAggregationMessages.replyLimit(.secaggLeave, nodes: 1)))
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
                    let payload = try streamedBudget.map { try node.conn.receiveStreamedBytes(frame, budget: $0, timeout: timeout) } ?? frame.payload
                    let taken = try withProgress { progress, state -> Bool in
                        try progress.complete(node.name, bytes: payload.count) { try handler.value(node, payload, &state) }
                        return true
                    }
                    if taken == nil { throw SecureRoundProgress.StepClosed() }   // the attempt is over
                } catch let left as LeftRound {
                    _ = try? withProgress { progress, _ in progress.leave(node.name, "secure aggregation, \(step): \(left)") }
                } catch {
                    _ = try? withProgress { progress, _ in progress.fail(node.name, "secure aggregation, \(step): \(error)", kind: NodeDrop.reason(for: error)) }
                }
            }
        }
        _ = threads.wait(timeout: .now() + timeout + 2)
        let completed = (try? withProgress { progress, _ in progress.close() }) ?? []
        for s in group where !completed.contains(s.name) {
            let seen = try? withProgress { progress, _ -> (left: Bool, reason: String, kind: NodeDrop.Reason) in
                progress.fail(s.name, "secure aggregation, \(step): no reply within \(timeout) s")
                return (progress.left.contains(s.name), progress.rejected[s.name] ?? "?", progress.dropReasons[s.name] ?? .missedDeadline)
            }
            if seen?.left == true {
                c.log("coordinator: '\(s.name)' left the secure round at step '\(step)': \(seen?.reason ?? "?"); it stays connected")
            } else {
                c.log("coordinator: '\(s.name)' left the secure round at step '\(step)': \(seen?.reason ?? "?"); dropping its connection")
                c.dropSession(s, reason: seen?.kind ?? .missedDeadline, detail: seen?.reason ?? "")
            }
        }
        return group.filter { completed.contains($0.name) }
    }
}
