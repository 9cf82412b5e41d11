import CohortData
import CohortTransport
import Foundation

/// The statistics round under `plan.secureAggregation` (protocols/wire.md, "Statistics round"):
/// every node's additive statistics (rows, counts, missing counts, Σx, Σx², category counts)
/// go through the masked sum of protocols/secure-aggregation.md in the wide fixed point of
/// `StatisticsFixedPoint`, so the coordinator learns only the totals. Quantile sketches are not
/// additive and are not sent: a schema that needs one (a numeric column imputed with the median
/// or the most frequent value) is refused before anything is summed.
///
/// The messages are the model rounds' SECAGG_* messages, unchanged, under the session
/// `secureSession` (model rounds use round << 8 | attempt with round ≥ 1), after STATS_REQUEST
/// (with `secure`) and a STATS reply that carries the node's schema and no body.
extension StatisticsRound {
    /// The secure-aggregation session of the statistics round.
    static let secureSession: UInt64 = 0

    /// Requests, sums masked, decodes, validates, fits and ships.
    /// - Throws: `AggregationError` when fewer than max(t, `minimum`) nodes take part or stay
    ///   to the end of a step, or the nodes read their data with different schemas;
    ///   `StatisticsError.needsSketch` when the schema needs a median.
    func runSecure(_ participants: [Participant], secure: SecureAggregationPlan, log: (String) -> Void) throws -> Outcome {
        let session = Self.secureSession, n = participants.count
        let t = secure.threshold(participants: n)
        if let warning = try secure.checkThreshold(participants: n) { log("coordinator: statistics round: \(warning)") }
        let needed = max(t, minimum, 1)
        guard n >= needed else {
            throw AggregationError("statistics round under secure aggregation: \(n) node(s) connected, \(needed) needed (threshold \(t))")
        }
        var failed: [String: String] = [:]
        var group: [Participant] = []
        for p in participants {
            let request = StatisticsMessages.Request(sketchSize: plan.sketchSize,
                                                     secure: .init(session: session, node: p.id, threshold: t, participants: n, plan: secure, privacy: privacy))
            do {
                try p.conn.send(Frame(version: ProtocolVersion.current, type: MessageType.statsRequest.rawValue, payload: Array(try JSONEncoder().encode(request))))
                group.append(p)
            } catch { failed[p.name] = "cannot send the statistics request: \(error)" }
        }

        // The schemas (no statistics in the clear).
        var schema: DatasetSchema? = nil
        var schemaSource = ""
        var deadline = Date().addingTimeInterval(timeout)
        group = group.filter { p in
            do {
                let (header, body) = try receiveReply(from: p, deadline: deadline, maxPayload: 4 + RoundMessages.maxHeaderBytes)
                guard header.secure == true, body.isEmpty else {
                    throw AggregationError("sent \(body.count) bytes of statistics in the clear where the plan asks for secure aggregation")
                }
                if let schema {
                    guard header.schema == schema else { throw StatisticsError.schemaMismatch("'\(p.name)' reads its rows with another schema than '\(schemaSource)'") }
                } else {
                    try header.schema.validate(source: "'\(p.name)' schema")
                    schema = header.schema
                    schemaSource = p.name
                }
                return true
            } catch {
                failed[p.name] = "\(error)"
                log("coordinator: statistics round: '\(p.name)' refused: \(error)")
                return false
            }
        }
        guard let schema, group.count >= needed else {
            throw AggregationError("statistics round under secure aggregation: \(group.count) node(s) sent their schema, \(needed) needed" + Self.reasons(failed))
        }
        try Self.checkLearnedCategories(schema, secure: true, privacy: privacy != nil)
        if let column = SiteStatistics.columnsNeedingSketch(schema: schema).first {
            throw StatisticsError.needsSketch(feature: column, policy: schema.features.first { $0.name == column }!.policy.rawValue)
        }
        if let privacy, let column = PrivateStatistics.unbounded(schema: schema, bounds: privacy.bounds).first {
            throw AggregationError("statistics round under privacy: the numeric column '\(column)' has no bounds in preprocessing.bounds ([lo, hi], public, not from the sites' data)")
        }
        let values = privacy == nil ? SiteStatistics.additiveLength(schema: schema) : PrivateStatistics.length(schema: schema)
        let length = StatisticsFixedPoint.length(values: values)
        let server = try SecureAggregation.Server(parameters: .init(round: session, threshold: t, vectorLength: length))
        func below(_ stage: String) -> AggregationError {
            AggregationError("statistics round under secure aggregation: \(group.count) node(s) left after \(stage), \(needed) needed" + Self.reasons(failed))
        }
        func check(_ p: Participant, _ node: UInt32) throws {
            guard node == p.id else { throw AggregationError("'\(p.name)' speaks as node \(node); its id is \(p.id)") }
        }

        // Step 1: the keys (each node sends them right after its schema).
        deadline = Date().addingTimeInterval(timeout)
        group = exchange(group, expect: .secaggKeys, deadline: deadline, failed: &failed, log: log) { p, frame in
            let m = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.KeysMessage.self, session: session)
            try check(p, m.keys.node)
            try server.receive(m.keys.value)
        }
        let roster: [SecureAggregation.PublicKeys]
        do { roster = try server.finishAdvertising() } catch { throw below("key advertising: \(error)") }

        // Step 2: the roster out, the sealed share bundles back.
        let rosterFrame = try SecureAggregationMessages.frame(.secaggRoster, SecureAggregationMessages.RosterMessage(session: session, roster: roster.map { .init($0) }))
        group = send(group, failed: &failed) { _ in rosterFrame }
        deadline = Date().addingTimeInterval(timeout)
        group = exchange(group, expect: .secaggShares, deadline: deadline, failed: &failed, log: log) { p, frame in
            let m = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.SharesMessage.self, session: session)
            try check(p, m.node)
            try server.receive(m.value)
        }
        do { _ = try server.finishSharing() } catch { throw below("key sharing: \(error)") }

        // Step 3: each node's bundles out, its masked statistics back.
        group = send(group, failed: &failed) { p in
            try SecureAggregationMessages.frame(.secaggBundles, SecureAggregationMessages.BundlesMessage(session: session, bundles: try server.shares(for: p.id).map { .init($0) }))
        }
        deadline = Date().addingTimeInterval(timeout)
        group = exchange(group, expect: .secaggMasked, streamedBudget: SecureAggregationMessages.maskedBudget(length: length),
                         deadline: deadline, failed: &failed, log: log) { p, frame in
            let (h, body) = try RoundMessages.parse(frame.payload, as: SecureAggregationMessages.MaskedHeader.self)
            guard h.session == session, h.round == 0, h.modelVersion == 0, h.samples == 0, h.metrics.isEmpty else {
                throw AggregationError("masked statistics with session \(h.session), round \(h.round), model \(h.modelVersion), \(h.samples) samples and \(h.metrics.count) metrics; expected session \(session) and nothing else")
            }
            try check(p, h.node)
            try server.receive(SecureAggregation.MaskedInput(node: h.node, words: try SecureAggregationMessages.words(body, length: length)))
        }
        let survivors: [UInt32]
        do { survivors = try server.finishMasking() } catch { throw below("masking: \(error)") }
        guard survivors.count >= needed else { throw below("masking") }

        // Step 4: the survivors out, the unmasking shares back; the sum.
        let survivorsFrame = try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: survivors))
        let inSum = group
        group = send(group, failed: &failed) { _ in survivorsFrame }
        deadline = Date().addingTimeInterval(timeout)
        group = exchange(group, expect: .secaggUnmask, deadline: deadline, failed: &failed, log: log) { p, frame in
            let m = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.UnmaskMessage.self, session: session)
            try check(p, m.node)
            try server.receive(try m.value())
        }
        let sum: [UInt32]
        do { sum = try server.finishUnmasking() } catch { throw below("unmasking: \(error)") }

        // Every node whose statistics are in the sum gets the fit, even one that left at step 4.
        let summed = Set(survivors)
        let recipients = inSum.filter { summed.contains($0.id) }
        let decoded = try StatisticsFixedPoint.decode(sum: sum, values: values)
        let totals: SiteStatistics
        var fitted: FittedPreprocessing
        if let privacy {
            totals = try privateTotals(decoded, privacy: privacy, schema: schema, survivors: recipients)
            fitted = try FittedPreprocessing.fit(schema: schema, statistics: totals)
            fitted.noiseMultiplier = privacy.noiseMultiplier
        } else {
            totals = try SiteStatistics.fromAdditive(decoded, schema: schema)
            fitted = try FittedPreprocessing.fit(schema: schema, statistics: totals)
        }
        for p in recipients { failed[p.name] = nil }
        try ship(fitted, to: recipients, failed: &failed)
        log("coordinator: statistics round: summed the additive statistics of \(survivors.count) node(s) under secure aggregation "
            + "(session \(session), threshold \(t), \(length) words each): \(totals.rows) rows in all"
            + (privacy.map { ", \($0.mode.rawValue) DP noise σ = \($0.noiseMultiplier) × S = \(String(format: "%.4g", PrivateStatistics.sensitivity(schema: schema)))" } ?? ""))
        return Outcome(preprocessing: fitted, rows: [:], failed: failed, summed: recipients.map(\.name).sorted(), noiseMultiplier: privacy?.noiseMultiplier)
    }

    /// Under privacy: the decoded sum of the survivors' `PrivateStatistics` vectors, with the
    /// central noise σ·S added here (distributed: it is already in the sum), averaged over the
    /// survivors and turned into statistics standing for their announced (public) rows.
    private func privateTotals(_ sum: [Double], privacy: StatisticsMessages.PrivateRelease, schema: DatasetSchema,
                               survivors: [Participant]) throws -> SiteStatistics {
        var noisy = sum
        if privacy.mode == .central {
            var noise = GaussianNoise.secure()
            let sd = GaussianNoise.centralStandardDeviation(noiseMultiplier: privacy.noiseMultiplier, clipNorm: PrivateStatistics.sensitivity(schema: schema))
            for i in noisy.indices { noisy[i] += sd * noise.next() }
        }
        let k = Double(max(survivors.count, 1))
        return try PrivateStatistics.statistics(average: noisy.map { $0 / k }, schema: schema, bounds: privacy.bounds,
                                                rows: survivors.reduce(0) { $0 + max($1.samples, 0) })
    }

    private static func reasons(_ failed: [String: String]) -> String {
        failed.isEmpty ? "" : " (" + failed.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ") + ")"
    }

    /// Sends every node its frame; returns those it went to.
    private func send(_ group: [Participant], failed: inout [String: String], _ frame: (Participant) throws -> Frame) -> [Participant] {
        group.filter { p in
            do {
                try p.conn.send(try frame(p))
                return true
            } catch {
                failed[p.name] = "cannot send: \(error)"
                return false
            }
        }
    }

    /// Receives each node's reply of `type` (skipping heartbeats; a streamed message of at most
    /// `streamedBudget` bytes when given) and hands it to `accept`; returns the nodes whose reply
    /// was accepted. A node that fails is recorded in `failed`.
    private func exchange(_ group: [Participant], expect type: MessageType, streamedBudget: Int? = nil, deadline: Date,
                          failed: inout [String: String], log: (String) -> Void, accept: (Participant, Frame) throws -> Void) -> [Participant] {
        group.filter { p in
            do {
                while true {
                    let left = deadline.timeIntervalSinceNow
                    guard left > 0 else { throw AggregationError("no \(type) within \(timeout) s") }
                    let frame = try p.conn.receive(timeout: left, maxPayload: SecureAggregationMessages.replyLimit(type, nodes: group.count))
                    switch MessageType(rawValue: frame.type) {
                    case .heartbeat: continue
                    case type:
                        let payload = try streamedBudget.map { try p.conn.receiveStreamedBytes(frame, budget: $0, timeout: max(left, 1)) } ?? frame.payload
                        try accept(p, Frame(version: frame.version, type: frame.type, payload: payload))
                        return true
                    case .error:
                        let message = (try? JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(frame.payload)))?.message ?? "?"
                        throw AggregationError("the node reported: \(message)")
                    default:
                        throw AggregationError("message type \(frame.type) where \(type) was expected")
                    }
                }
            } catch {
                failed[p.name] = "secure statistics, \(type): \(error)"
                log("coordinator: statistics round: '\(p.name)' left at \(type): \(error)")
                return false
            }
        }
    }
}
