import CohortTensor
import CohortTransport
import Foundation

/// One plain round (no secure aggregation), one method per protocol step: sample the
/// participants and build their MODELs (`prepare`), exchange MODEL/UPDATE with each in parallel
/// (`collectUpdates`), close the round and drop the nodes that missed it (`close`), then
/// aggregate if the quorum replied (`aggregate`) and finish the record (`RoundRecordFinisher`).
struct PlainRoundRunner: Sendable {
    let coordinator: Coordinator
    let round: Int
    /// This attempt's `PlainRoundProgress.token`.
    let token: Int
    private let start = Date()

    init(coordinator: Coordinator, round: Int, token: Int) {
        self.coordinator = coordinator
        self.round = round
        self.token = token
    }

    /// What `prepare` sets up for the other steps.
    struct Prepared {
        let participants: [Coordinator.Session]
        /// Sampled under Poisson sampling but not connected.
        let offline: [String]
        let models: [String: (message: StreamedMessage, delta: Bool)]
        let shapes: [String: [Int]]
        let budget: Int
        let fold: OrderedFold
        let adaptive: Coordinator.AdaptiveRound?
        let expectedVersion: Int
        /// Each participant's claimed sample count against its expected one (secrets file).
        let sampleChecks: [String: ExpectedSampleCheck]
        /// The default norm guard's bound this round (nil: the plan screens, or has privacy).
        let normBound: UpdateNormGuard.Bound?
    }

    /// Runs the round; nil when the quorum was not reached (the global model is unchanged).
    func run() throws -> Coordinator.RoundRecord? {
        let prepared = try prepare()
        collectUpdates(prepared)
        close(prepared)
        return try aggregate(prepared)
    }

    /// Samples the participants, starts the strategy's round and builds each node's MODEL.
    func prepare() throws -> Prepared {
        let c = coordinator
        let preparing = Date()
        let connected = c.state.withLock { $0.sortedSessions }
        let (participants, offline) = c.privateSample(connected, round: round) ?? (c.sample(connected, round: round), [])
        let globalDict = Dictionary(uniqueKeysWithValues: c.global.map { ($0.name, $0.value) })
        let adaptive = try c.prepareDPRound(round, participants: participants.count)
        c.strategy.begin(round: round, global: globalDict)
        c.prepareNextSum()
        let header = RoundMessages.ModelHeader(round: round, modelVersion: c.version, plan: c.roundPlan, architecture: c.architecture)
        var cache: [Int: StreamedMessage] = [:]
        let models = try Dictionary(uniqueKeysWithValues: participants.map { ($0.name, try c.modelMessage(.model, header: header, for: $0, cache: &cache)) })
        let shapes = globalDict.mapValues(\.shape)
        let parameters = shapes.values.reduce(0) { $0 + $1.reduce(1, *) }
        // Claims over the secrets file's expected counts are capped, or rejected by the plan.
        let action = c.plan.effectiveScreening?.action ?? .clip
        let checks = Dictionary(uniqueKeysWithValues: participants.map {
            ($0.name, ExpectedSampleCheck(claimed: $0.samples, expected: c.config.expectedSamples[$0.name], action: action))
        })
        // The default norm guard: from the global model's norm and the journaled reference, so a
        // resumed run holds its updates to the same bound as an uninterrupted one.
        let normBound = c.plan.usesDefaultNormGuard
            ? UpdateNormGuard.bound(globalNorm: UpdateNormGuard.norm(c.global), reference: UpdateNormGuard.reference(after: c.journaled)) : nil
        let fold = OrderedFold(participants: participants.map(\.name),
                               samples: Dictionary(uniqueKeysWithValues: participants.map { ($0.name, checks[$0.name]!.weight(claimed: $0.samples)) }),
                               strategy: c.strategy, bufferBudget: c.config.updateBufferBytes, normBound: normBound?.value)
        var progress = PlainRoundProgress(token: token, fold: fold)
        for (name, check) in checks.sorted(by: { $0.key < $1.key }) where check != .within {
            if case .rejected = check {
                fold.fail(name)
                progress.rejected[name] = .overClaimed(check)
            }
            c.log("coordinator: round \(round): '\(name)' \(check)")
        }
        c.state.withLock { $0.plain = progress }
        if 4 * parameters >= 64 << 20 {   // large models: the coordinator's work before the first MODEL byte (issue 19)
            c.log(String(format: "coordinator: round %d: MODELs prepared in %.2f s (%ld bytes of weights: strategy begin, norm bound, digest, chunk checksums)",
                         round, Date().timeIntervalSince(preparing), 4 * parameters))
        }
        return Prepared(participants: participants, offline: offline, models: models, shapes: shapes, budget: parameters * 8 + 1 << 20,
                        fold: fold, adaptive: adaptive, expectedVersion: c.version, sampleChecks: checks, normBound: normBound)
    }

    /// Sends every participant its MODEL and takes its UPDATE, each on its own thread, until all
    /// have answered or the round timeout (plus a grace of 2 s) passed.
    func collectUpdates(_ p: Prepared) {
        let c = coordinator
        let deadline = Date().addingTimeInterval(c.config.roundTimeout)
        let group = DispatchGroup()
        for participant in p.participants {
            group.enter()
            let handOff = HandOff((participant, p))
            c.spawn { [self] in
                defer { group.leave() }
                let (session, p) = handOff.value
                exchange(with: session, p, deadline: deadline)
            }
        }
        _ = group.wait(timeout: .now() + c.config.roundTimeout + 2)
    }

    /// One participant's MODEL out and UPDATE in; records the outcome in the round's progress.
    private func exchange(with session: Coordinator.Session, _ p: Prepared, deadline: Date) {
        let c = coordinator
        var rejection: RoundRejection? = nil
        do {
            let sending = Date()
            try session.conn.send(p.models[session.name]!.message, version: ProtocolVersion.current)
            let length = p.models[session.name]!.message.length
            if length >= 64 << 20 {   // large models: where the downlink's time goes (issue 19)
                let seconds = Date().timeIntervalSince(sending)
                c.log(String(format: "coordinator: round %d: MODEL to '%@' (%ld bytes) sent in %.2f s (%.2f GB/s)", round, session.name, length, seconds,
                             Double(length) / max(seconds, 1e-9) / 1e9))
            }
            let (h, bytes) = try c.receiveUpdate(from: session, round: round, modelVersion: p.expectedVersion, shapes: p.shapes,
                                                 budget: p.budget, token: token, fold: p.fold, deadline: deadline)
            c.acknowledge(session, version: p.expectedVersion)
            let (metrics, invalid) = NodeMetricsCheck.validated(h.metrics)
            if !invalid.isEmpty { c.log("coordinator: round \(round): '\(session.name)' reported invalid metrics, left out: \(invalid.joined(separator: ", "))") }
            _ = try? c.withPlainRound(token) {
                $0.metrics[session.name] = metrics.merging(["samples": Double(h.samples)]) { a, _ in a }
                if !invalid.isEmpty { $0.invalidMetrics[session.name] = invalid }
                $0.bytesUp += bytes
            }
        } catch let closed as RoundClosed {
            rejection = .late(closed)
        } catch {
            rejection = .failed(error)
        }
        _ = try? c.withPlainRound(token) { progress in
            progress.done.insert(session.name)
            if let rejection {
                progress.rejected[session.name] = rejection
                progress.fold.fail(session.name)
            }
        }
        if let rejection {
            c.config.metrics?.updateRejected(rejection.keepsSession ? .late : Date() >= deadline ? .timeout : .invalid)
            c.log("coordinator: round \(round): update from '\(session.name)' rejected: \(rejection)")
            if case .failed(let error) = rejection { c.dropSession(session, reason: NodeDrop.reason(for: error), detail: "\(error)") }
        }
    }

    /// Closes the round: what is complete is folded, the fold's own rejections join the
    /// exchanges', and participants still exchanging are dropped (they missed the deadline).
    func close(_ p: Prepared) {
        let c = coordinator
        let late: [Coordinator.Session] = (try? c.withPlainRound(token) { progress in
            progress.open = false
            progress.fold.close()
            for (name, reason) in progress.fold.rejected {
                progress.rejected[name] = .fold(reason: reason, after: progress.rejected[name])
            }
            let done = progress.done
            return p.participants.filter { !done.contains($0.name) }
        }) ?? []
        for s in late {
            _ = try? c.withPlainRound(token) { $0.rejected[s.name] = .missedDeadline(seconds: c.config.roundTimeout) }
            c.config.metrics?.updateRejected(.timeout)
            c.log("coordinator: round \(round): '\(s.name)' missed the deadline; dropping its connection")
            c.dropSession(s, reason: .missedDeadline, detail: RoundRejection.missedDeadline(seconds: c.config.roundTimeout).description)
        }
    }

    /// With the quorum (or under Poisson sampling, always): the strategy's result becomes the
    /// next global model and the round's record is finished. Nil without the quorum.
    func aggregate(_ p: Prepared) throws -> Coordinator.RoundRecord? {
        let c = coordinator
        let quorum = c.config.quorum ?? c.config.minNodes
        var progress = c.state.withLock { s -> (accepted: [String], rejected: [String: String], metrics: [String: [String: Double]], bytesUp: Int,
                                                  folded: [String], invalid: [String: [String]], guarded: [String: String], norms: [String: Double]) in
            let plain = s.plain!
            s.plain = nil
            return (plain.fold.folded.sorted(), plain.rejected.mapValues(\.description), plain.metrics, plain.bytesUp, plain.fold.folded, plain.invalidMetrics,
                    plain.fold.guarded, plain.fold.norms)
        }
        // Screening (plan.screening): updates over the norm bound are clipped or left out.
        var screening: [String: String] = [:]
        for (name, check) in p.sampleChecks {
            if case .capped = check { screening[name] = check.description }
        }
        // The default norm guard left these out (or cut them off) as they streamed in.
        for (name, verdict) in progress.guarded.sorted(by: { $0.key < $1.key }) {
            screening[name] = screening[name].map { "\($0); \(verdict)" } ?? verdict
            c.log("coordinator: round \(round): update from '\(name)' \(verdict)")
        }
        if let screened = c.strategy as? ScreenedAggregation {
            for (name, verdict) in zip(progress.folded, screened.screen()) where verdict != .kept {
                screening[name] = screening[name].map { "\($0); \(verdict)" } ?? verdict.description
                if case .rejected = verdict {
                    progress.rejected[name] = "screening: \(verdict)"
                    progress.accepted.removeAll { $0 == name }
                }
                c.log("coordinator: round \(round): update from '\(name)' \(verdict)")
            }
        }
        // Under Poisson sampling the round is released whoever was sampled (protocols/privacy.md, "Sampling").
        guard progress.accepted.count >= quorum || c.plan.privacy?.sampleRate != nil else {
            c.log("coordinator: round \(round): \(progress.accepted.count) update(s), quorum \(quorum)")
            return nil
        }
        let finishing = Date()
        let next = try c.strategy.finish()
        let weightBytes = c.global.reduce(0) { $0 + 4 * $1.value.count }
        if weightBytes >= 64 << 20 {   // large models: the aggregate's share of the round (issue 19)
            c.log(String(format: "coordinator: round %d: aggregate finished in %.2f s (%ld bytes of weights)", round,
                         Date().timeIntervalSince(finishing), weightBytes))
        }
        let nonFinite = c.global.map(\.name).filter { name in next[name].map { !$0.isFinite } ?? true }
        var record = Coordinator.RoundRecord(round: round, participants: p.participants.map(\.name), accepted: progress.accepted,
                                             rejected: progress.rejected, globalValidationAccuracy: nil, nodeMetrics: progress.metrics,
                                             bytesDown: p.models.values.reduce(0) { $0 + $1.message.length }, bytesUp: progress.bytesUp,
                                             seconds: 0, finishedAt: 0)
        record.deltaModels = p.models.values.filter(\.delta).count
        if c.config.noiseSeed != nil { record.testNoiseSeeded = true }
        record.screening = screening.isEmpty ? nil : screening
        if let bound = p.normBound {
            record.normGuard = NormGuardRecord(bound: bound.value, absolute: bound.absolute, relative: bound.relative, norms: progress.norms,
                                               median: UpdateNormGuard.median(Array(progress.norms.values)))
        }
        record.invalidMetrics = progress.invalid.isEmpty ? nil : progress.invalid
        if nonFinite.isEmpty {
            c.advanceGlobal(to: c.global.map { ($0.name, next[$0.name]!) })
        } else {
            // Finite updates can still sum past Float's range: the round is recorded, the model kept.
            record.unapplied = "the aggregate is not finite (\(nonFinite.prefix(3).joined(separator: ", "))\(nonFinite.count > 3 ? ", ..." : "")); the global model is unchanged"
            c.log("coordinator: round \(round): rejected: \(record.unapplied!)")
        }
        record.participants += p.offline
        for name in p.offline {
            record.rejected[name] = RoundRejection.notConnected.description
            c.config.metrics?.updateRejected(.notConnected)
        }
        var privacyNote = c.accountPrivacy(&record)
        record.denominator = (c.strategy as? DPFedAvg)?.denominator
        if let adaptive = p.adaptive {
            privacyNote += try c.finishAdaptiveClipping(round, adaptive, bits: progress.accepted.map { progress.metrics[$0]?["clipped"] == 0 }, record: &record)
        }
        RoundRecordFinisher(start: start).finish(&record)
        c.log("coordinator: round \(round) done: \(progress.accepted.count)/\(p.participants.count) updates, global val acc "
            + RoundRecordFinisher.accuracyText(record) + ", \(record.bytesUp) bytes up, \(record.bytesDown) down (\(record.deltaModels!) as deltas), "
            + "\(String(format: "%.2f", record.seconds)) s" + privacyNote)
        return record
    }
}
