import CohortData
import CohortTransport
import Foundation

extension FederatedNode {
    /// Answers a STATS_REQUEST that assigns secure aggregation (protocols/wire.md, "Statistics
    /// round"): checks the assignment against the plan section it carries, refuses a schema
    /// whose fit needs a quantile sketch (a numeric column imputed with the median or the most
    /// frequent value), sends STATS with its schema and no statistics, then takes part in the
    /// four steps of protocols/secure-aggregation.md with its additive statistics in the wide
    /// fixed point (`StatisticsFixedPoint`). Nothing about its statistics leaves in the clear.
    func answerSecureStatisticsRequest(_ a: StatisticsMessages.SecureAssignment, table: RawSiteTable, version: UInt16,
                                       conn: FramedConnection, log: (String) -> Void) throws {
        let tag = "\(config.name): statistics round (secure aggregation session \(a.session), node \(a.node) of \(a.participants), t = \(a.threshold))"
        func refuse(_ reason: String) -> Error {
            log("\(tag): refusing: \(reason)")
            _ = Handshake.refuse(conn, "node '\(config.name)' refuses the statistics round: \(reason)")
            return PolicyRefusal(description: "\(config.name): refused the statistics round: \(reason)")
        }
        do {
            try a.plan.validate()
            guard a.participants >= a.threshold, a.threshold == a.plan.threshold(participants: a.participants) else {
                throw AggregationError("inconsistent assignment: threshold \(a.threshold) for \(a.participants) participants, the plan's is \(a.plan.threshold(participants: a.participants))")
            }
            if let warning = try a.plan.checkThreshold(participants: a.participants) { log("\(tag): \(warning)") }
        } catch {
            throw refuse("\(error)")
        }
        if !table.schema.learnedColumns.isEmpty {
            throw refuse(StatisticsError.learnedCategoriesRefused(features: table.schema.learnedColumns, mechanism: a.privacy == nil ? "secure aggregation" : "privacy").description)
        }
        if let column = SiteStatistics.columnsNeedingSketch(schema: table.schema).first {
            let policy = table.schema.features.first { $0.name == column }?.policy.rawValue ?? "?"
            throw refuse(StatisticsError.needsSketch(feature: column, policy: policy).description)
        }
        var vector: [Double]
        if let privacy = a.privacy {
            // Bounded and normalised (norm ≤ S whatever the rows), with this node's share of the noise under distributed DP.
            guard privacy.noiseMultiplier > 0, privacy.noiseMultiplier.isFinite else { throw refuse("the statistics round's noise multiplier \(privacy.noiseMultiplier) is not positive and finite") }
            do { vector = try PrivateStatistics.vector(schema: table.schema, rows: table.train.allInputs, targets: table.train.labelled.targets, bounds: privacy.bounds) } catch { throw refuse(error.description) }
            if privacy.mode == .distributed {
                let sd = GaussianNoise.distributedStandardDeviation(noiseMultiplier: privacy.noiseMultiplier, clipNorm: PrivateStatistics.sensitivity(schema: table.schema),
                                                                    nodes: a.threshold)
                var noise = GaussianNoise.secure()
                for i in vector.indices { vector[i] += sd * noise.next() }
            }
        } else {
            vector = try SiteStatistics.compute(schema: table.schema, rows: table.train.allInputs, targets: table.train.labelled.targets, sketchCapacity: 1).additiveVector(schema: table.schema)
        }
        let words: [UInt32]
        do { words = try StatisticsFixedPoint.encode(vector) } catch {
            if case .outOfRange(let i, _) = error {
                let labels = a.privacy == nil ? SiteStatistics.additiveLabels(schema: table.schema) : []
                // Only the statistic's name goes to the coordinator, not its value.
                throw refuse("the statistic '\(i < labels.count ? labels[i] : "\(i)")' is outside the secure statistics encoding's range (±2^79); rescale the column")
            }
            throw refuse("\(error)")
        }
        do {
            let client = try SecureAggregation.Client(node: a.node, parameters: .init(round: a.session, threshold: a.threshold, vectorLength: words.count),
                                                      random: .system())
            try conn.sendOrLose(Frame(version: version, type: MessageType.stats.rawValue,
                                      payload: try RoundMessages.payload(StatisticsMessages.ReplyHeader(schema: table.schema.withoutFindings, secure: true), body: [])))
            // Step 1: keys.
            try conn.sendOrLose(try SecureAggregationMessages.frame(.secaggKeys, SecureAggregationMessages.KeysMessage(session: a.session, keys: .init(try client.advertiseKeys()))))
            // Step 2: shares.
            let roster = try SecureAggregationMessages.parse(try awaitStatisticsStep(conn, .secaggRoster, session: a.session),
                                                             as: SecureAggregationMessages.RosterMessage.self, session: a.session)
            let shared = try client.shareKeys(roster: roster.roster.map(\.value))
            try conn.sendOrLose(try SecureAggregationMessages.frame(.secaggShares, SecureAggregationMessages.SharesMessage(session: a.session, shared)))
            // Step 3: the masked statistics (no samples, no metrics: nothing in the clear).
            let bundles = try SecureAggregationMessages.parse(try awaitStatisticsStep(conn, .secaggBundles, session: a.session),
                                                              as: SecureAggregationMessages.BundlesMessage.self, session: a.session)
            let masked = try client.maskInput(words, shares: bundles.bundles.map(\.value))
            let header = SecureAggregationMessages.MaskedHeader(session: a.session, node: a.node, round: 0, modelVersion: 0, samples: 0, metrics: [:])
            do { try conn.send(try SecureAggregationMessages.maskedMessage(header, words: masked.words), version: ProtocolVersion.current) } catch {
                throw SessionLost(reason: "\(error)")
            }
            // Step 4: unmasking shares.
            let survivors = try SecureAggregationMessages.parse(try awaitStatisticsStep(conn, .secaggSurvivors, session: a.session),
                                                                as: SecureAggregationMessages.SurvivorsMessage.self, session: a.session)
            let unmasking = try client.unmask(survivors: survivors.survivors)
            try conn.sendOrLose(try SecureAggregationMessages.frame(.secaggUnmask, SecureAggregationMessages.UnmaskMessage(session: a.session, unmasking)))
            log("\(tag): sent the masked \(a.privacy.map { "private (\($0.mode.rawValue) DP, σ = \($0.noiseMultiplier)) " } ?? "")statistics of its training rows (\(words.count) words) and the unmasking shares for \(survivors.survivors.count) survivor(s)")
        } catch let error as SecureAggregationError {
            log("\(tag): \(error); leaving")
            throw SessionLost(reason: "\(error)")
        } catch let error as AggregationError {
            log("\(tag): \(error); leaving")
            throw SessionLost(reason: "\(error)")
        }
    }

    /// Receives until the statistics round's message of `type` arrives (heartbeats skipped);
    /// an ABORT, an ERROR or any other message ends the node's part.
    private func awaitStatisticsStep(_ conn: FramedConnection, _ type: MessageType, session: UInt64) throws -> Frame {
        while true {
            let frame: Frame
            do { frame = try conn.receive(timeout: config.timeout) } catch { throw SessionLost(reason: "\(error)") }
            switch MessageType(rawValue: frame.type) {
            case .heartbeat:
                continue
            case type:
                return frame
            case .secaggAbort:
                let abort = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.AbortMessage.self, session: session)
                throw AggregationError("the coordinator abandoned the statistics round: \(abort.reason)")
            case .error:
                let message = (try? JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(frame.payload)))?.message ?? "?"
                throw TransportError("coordinator reported: \(message)")
            default:
                throw SessionLost(reason: "expected \(type) (type \(type.rawValue)) in the statistics round, got type \(frame.type)")
            }
        }
    }
}
