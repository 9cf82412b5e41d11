import CohortCheckpoint
import CohortTensor
import CohortTransport
import Foundation

/// The steps of a secure-aggregation round, by the message a node sends (names as in
/// `--test-drop-after`).
public enum SecureAggregationStep: String, CaseIterable, Sendable {
    case keys, shares, maskedInput = "masked-input", unmasking
}

extension FederatedNode {
    /// The attempt was abandoned while the node waited: an ABORT for it (`frame` nil), or a
    /// frame that belongs to the serve loop (a new MODEL, EVALUATE or BYE).
    private struct Abandoned: Error { let frame: Frame? }

    /// A MODEL under secure aggregation: the four steps of protocols/secure-aggregation.md, with
    /// local training between step 2 (keys shared) and step 3 (masked input). Returns a frame
    /// the serve loop must handle when the attempt ended on one.
    ///
    /// A protocol violation by the coordinator (a malformed or inconsistent message, an
    /// assignment that does not match the plan) ends the node's part: it drops the connection
    /// (and reconnects) without revealing anything more. A failure of its own (training that
    /// diverges, an update that cannot be clipped) makes it leave the attempt with SECAGG_LEAVE
    /// and a fixed reason code (never the error's text, which stays in the node's own log); it stays connected for later rounds (it sent no masked input, so nothing of
    /// its update can be unmasked).
    func serveSecureRound(_ header: RoundMessages.ModelHeader, weights: [String: Tensor], assignment a: SecureAggregationMessages.Assignment,
                          conn: FramedConnection, log: (String) -> Void) throws -> Frame? {
        let tag = "\(config.name): round \(header.round) (secure aggregation session \(a.session), node \(a.node) of \(a.participants), t = \(a.threshold))"
        do {
            try header.plan.validate()
            guard let secure = header.plan.secureAggregation else { throw AggregationError("the MODEL assigns secure aggregation but the plan has none") }
            // The coordinator may lower this node's weight (its expected sample count), never
            // raise it past the node's own count.
            let weighted = min(a.samples ?? trainingCount, trainingCount)
            guard a.participants >= a.threshold, weighted >= 1, a.totalSamples >= weighted, trainingCount > 0 else {
                throw AggregationError("inconsistent assignment: \(a.participants) participants, threshold \(a.threshold), \(a.totalSamples) samples in all, "
                                       + "\(weighted) for this node of its \(trainingCount)")
            }
            if weighted < trainingCount { log("\(tag): the coordinator weights this node's update by \(weighted) of its \(trainingCount) samples (its expected count)") }
            let planned = secure.threshold(participants: a.participants)
            if let warning = try secure.checkThreshold(participants: a.participants) { log("\(tag): \(warning)") }
            guard a.threshold == planned else {
                throw AggregationError("the assignment's threshold \(a.threshold) is not the plan's \(planned) for \(a.participants) participants")
            }
            let identity = config.secureAggregationIdentity
            guard secure.consistencyCheck || identity == nil else {
                throw AggregationError("this node has a signing key and requires the consistency round; the plan lacks secureAggregation.consistencyCheck")
            }
            guard !secure.consistencyCheck || identity != nil else {
                throw AggregationError("the plan asks for the consistency round (secureAggregation.consistencyCheck) but this node has no signing key (--secagg-signing-key, --secagg-peers)")
            }
            let encoding = try SecureUpdateEncoding(plan: header.plan, architecture: header.architecture, participants: a.participants, threshold: a.threshold)
            let client = try SecureAggregation.Client(node: a.node, parameters: a.parameters(length: encoding.length), random: .system(), identity: identity)
            // Step 1: advertise keys.
            try send(conn, .secaggKeys, SecureAggregationMessages.KeysMessage(session: a.session, keys: .init(try client.advertiseKeys())))
            try dropIfTesting(.keys, header: header, session: a.session, conn: conn)
            // Step 2: share keys.
            let rosterFrame = try awaitStep(conn, .secaggRoster, session: a.session, tag: tag, log: log)
            let roster = try SecureAggregationMessages.parse(rosterFrame, as: SecureAggregationMessages.RosterMessage.self, session: a.session)
            let shared = try client.shareKeys(roster: roster.roster.map(\.value))
            try send(conn, .secaggShares, SecureAggregationMessages.SharesMessage(session: a.session, shared))
            try dropIfTesting(.shares, header: header, session: a.session, conn: conn)
            // Step 3: train, then mask.
            let bundlesFrame = try awaitStep(conn, .secaggBundles, session: a.session, tag: tag, log: log)
            let bundles = try SecureAggregationMessages.parse(bundlesFrame, as: SecureAggregationMessages.BundlesMessage.self, session: a.session)
            let update: LocalUpdate, words: [UInt32], preClipNorm: Double
            do {
                update = try trainLocally(header, weights: weights)
            } catch {
                log("\(tag): \(error); leaving the round (staying connected for later rounds)")
                try send(conn, .secaggLeave, SecureAggregationMessages.LeaveMessage(session: a.session, reason: .trainingFailed))
                return nil
            }
            do {
                let weight = encoding.equalWeights ? 1 : Double(weighted) / Double(a.totalSamples)
                var noise = GaussianNoise.secure()
                (words, preClipNorm) = try encoding.words(for: try update.delta(), weight: weight, noise: &noise)
                if let dir = config.secureAggregationDump {
                    try SecureAggregationDump.write(words, to: dir, name: "input-s\(a.session)-n\(a.node).u32")
                }
            } catch {
                log("\(tag): \(error); leaving the round (staying connected for later rounds)")
                try send(conn, .secaggLeave, SecureAggregationMessages.LeaveMessage(session: a.session, reason: .encodingFailed))
                return nil
            }
            let masked = try client.maskInput(words, shares: bundles.bundles.map(\.value))
            let maskedHeader = SecureAggregationMessages.MaskedHeader(session: a.session, node: a.node, round: header.round, modelVersion: header.modelVersion,
                                                                       samples: samples, metrics: maskedInputMetrics(update, plan: header.plan))
            let message = try SecureAggregationMessages.maskedMessage(maskedHeader, words: masked.words)
            do { try conn.send(message, version: ProtocolVersion.current) } catch { throw SessionLost(reason: "\(error)") }
            log("\(tag): trained (local val acc \(String(format: "%.3f", update.trained["local_val_accuracy"] ?? .nan)), update norm "
                + "\(String(format: "%.3g", preClipNorm)) before clipping to \(String(format: "%.4g", encoding.effectiveClipNorm))), sent \(encoding.length) masked words")
            try dropIfTesting(.maskedInput, header: header, session: a.session, conn: conn)
            // Step 4: unmask.
            let survivorsFrame = try awaitStep(conn, .secaggSurvivors, session: a.session, tag: tag, log: log)
            let survivors = try SecureAggregationMessages.parse(survivorsFrame, as: SecureAggregationMessages.SurvivorsMessage.self, session: a.session)
            var unmasking: SecureAggregation.Unmasking
            if client.checksConsistency {
                // Consistency round: sign the set shown, then reveal only with t signatures of it.
                let signature = try client.signSurvivors(survivors.survivors)
                try send(conn, .secaggSignature, SecureAggregationMessages.SignatureMessage(session: a.session, node: a.node, signature: signature))
                let signedFrame = try awaitStep(conn, .secaggSurvivors, session: a.session, tag: tag, log: log)
                let signed = try SecureAggregationMessages.parse(signedFrame, as: SecureAggregationMessages.SurvivorsMessage.self, session: a.session)
                var table: [UInt32: [UInt8]] = [:]
                for s in signed.signatures ?? [] where s.session == a.session { table[s.node] = Array(s.signature) }
                unmasking = try client.unmask(survivors: signed.survivors, signatures: table)
                log("\(tag): consistency check passed: \(table.count) signature(s) of the survivor set \(signed.survivors.sorted())")
            } else {
                unmasking = try client.unmask(survivors: survivors.survivors)
            }
            if let r = config.testCorruptUnmasking, r == header.round, a.session & 0xFF == 0 {
                unmasking = Self.corrupted(unmasking)
                log("\(tag): testing: corrupted the self-mask shares about to be revealed (--test-corrupt-unmasking)")
            }
            try send(conn, .secaggUnmask, SecureAggregationMessages.UnmaskMessage(session: a.session, unmasking))
            log("\(tag): revealed self-mask shares of \(unmasking.selfMaskShares.count) survivor(s) and key shares of \(unmasking.maskingKeyShares.count) dropped node(s)")
            try dropIfTesting(.unmasking, header: header, session: a.session, conn: conn)
            return nil
        } catch let abandoned as Abandoned {
            return abandoned.frame
        } catch let error as SecureAggregationError {
            log("\(tag): \(error); leaving the round")
            throw SessionLost(reason: "\(error)")
        } catch let error as AggregationError {
            log("\(tag): \(error); leaving the round")
            throw SessionLost(reason: "\(error)")
        }
    }

    /// The seed of local shuffling: the plan's seed and the round, and under secure aggregation
    /// 64 fresh bits from the CSPRNG, so that no two attempts train identically and send the
    /// same input (protocols/privacy.md, "Release point").
    public static func trainingSeed(plan: TrainingPlan, round: Int, secureAggregation: Bool) -> UInt64 {
        let base = plan.seed &+ UInt64(round) &* 7919
        return secureAggregation ? base ^ CryptoRandom.system().next() : base
    }

    /// Receives until the message of `type` arrives, skipping heartbeats and secure-aggregation
    /// messages of other sessions (stale, logged); throws `Abandoned` when the coordinator gave
    /// up the attempt.
    private func awaitStep(_ conn: FramedConnection, _ type: MessageType, session: UInt64, tag: String, log: (String) -> Void) throws -> Frame {
        while true {
            let frame: Frame
            do { frame = try conn.receive(timeout: config.timeout) } catch { throw SessionLost(reason: "\(error)") }
            let kind = MessageType(rawValue: frame.type)
            if kind?.isSecureAggregation == true, let other = Self.otherSession(frame, than: session) {
                log("\(tag): ignoring a stale message of type \(frame.type) for session \(other)")
                continue
            }
            switch kind {
            case .heartbeat:
                continue
            case type:
                return frame
            case .secaggAbort:
                let abort = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.AbortMessage.self, session: session)
                log("\(tag): the coordinator abandoned the attempt: \(abort.reason)")
                throw Abandoned(frame: nil)
            case .model, .evaluate, .bye:
                log("\(tag): the coordinator moved on; leaving the attempt")
                throw Abandoned(frame: frame)
            case .error:
                let message = (try? JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(frame.payload)))?.message ?? "?"
                throw TransportError("coordinator reported: \(message)")
            default:
                throw SessionLost(reason: "expected \(type) (type \(type.rawValue)) from the coordinator, got type \(frame.type)")
            }
        }
    }

    /// The session a secure-aggregation frame names when it is not `session` (nil when it is,
    /// or when the frame names none).
    static func otherSession(_ frame: Frame, than session: UInt64?) -> UInt64? {
        guard let named = try? RoundMessages.parse(frame.payload, as: SecureAggregationMessages.SessionOnly.self).header.session else { return nil }
        return named == session ? nil : named
    }

    private func send<H: Encodable>(_ conn: FramedConnection, _ type: MessageType, _ header: H) throws {
        try conn.sendOrLose(try SecureAggregationMessages.frame(type, header))
    }

    /// `--test-drop-after`: in the first attempt of the given round, drop the connection right
    /// after `step`'s message went out and stay away for a second (a node that reconnected at
    /// once would replace its old session at the coordinator, which closes the old connection,
    /// possibly before the message sent on it was read); then reconnect.
    private func dropIfTesting(_ step: SecureAggregationStep, header: RoundMessages.ModelHeader, session: UInt64, conn: FramedConnection) throws {
        guard let drop = config.testDropAfter, drop.step == step, drop.round == header.round, session & 0xFF == 0 else { return }
        conn.close()
        Thread.sleep(forTimeInterval: 1)
        throw SessionLost(reason: "testing: dropped the connection after sending \(step.rawValue) (--test-drop-after)")
    }

    /// `--test-corrupt-unmasking`: the same shares with every self-mask share moved off its
    /// polynomial, as a faulty or malicious node would reveal them.
    private static func corrupted(_ u: SecureAggregation.Unmasking) -> SecureAggregation.Unmasking {
        var out = u
        out.selfMaskShares = u.selfMaskShares.mapValues { ShamirShare(x: $0.x, values: [PrimeField61.add($0.values[0], 1)] + $0.values.dropFirst()) }
        return out
    }
}

extension FramedConnection {
    /// Sends, turning a transport failure into a lost session (the node reconnects).
    func sendOrLose(_ frame: Frame) throws {
        do { try send(frame) } catch { throw FederatedNode.SessionLost(reason: "\(error)") }
    }
}

/// Writes fixed-point vectors for the tests (`--test-dump-secagg`): u32 little-endian words.
enum SecureAggregationDump {
    static func write(_ words: [UInt32], to dir: String, name: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(SecureAggregationMessages.body(words)).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(name)), options: .atomic)
    }
}
