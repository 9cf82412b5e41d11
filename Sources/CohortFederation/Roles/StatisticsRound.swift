import CohortData
import CohortTransport
import Foundation

/// The federated statistics round before round 1 (`plan.preprocessing.fit = federated`;
/// protocols/wire.md, "Statistics round"): asks every connected node for its statistics
/// (STATS_REQUEST), validates each reply (schema, sizes before decoding, finite values,
/// consistent counts), merges them, fits the preprocessing once and sends it to every node
/// (PREPROCESSING). The coordinator stores the fit in its checkpoints.
struct StatisticsRound {
    /// A connected node.
    struct Participant {
        let name: String
        let conn: FramedConnection
        /// The node's secure-aggregation id (`Coordinator.secureAggregationIDs`); used only
        /// under secure aggregation.
        var id: UInt32 = 0
        /// The sample count the node announced in HELLO (public): under privacy the fit's
        /// row count is the survivors' total.
        var samples = 0
    }

    /// What the round produced.
    struct Outcome {
        /// The fit shipped to the nodes.
        var preprocessing: FittedPreprocessing
        /// Nodes whose statistics went into the fit, and each one's training rows.
        var rows: [String: Int]
        /// Nodes that failed (their connection should be dropped), with why.
        var failed: [String: String]
        /// Under secure aggregation: the nodes whose statistics are in the masked sum (`rows`
        /// is then empty: no site's row count is known).
        var summed: [String] = []
        /// Under privacy: σ of the released statistics (the coordinator accounts one step of it).
        var noiseMultiplier: Double? = nil
    }

    let plan: PreprocessingPlan
    /// The plan's secure aggregation: the additive statistics are summed masked
    /// (`runSecure`, in StatisticsRound+Secure.swift), and no sketch is sent.
    var secure: SecureAggregationPlan? = nil
    /// Under `plan.privacy` (with secure aggregation): the noise and bounds of the release.
    var privacy: StatisticsMessages.PrivateRelease? = nil
    /// Largest statistics body accepted from the first node, before any schema is known (16 MiB).
    static let firstReplyBytes = 16 << 20
    /// Deadline for every node's reply.
    let timeout: Double
    /// Nodes whose statistics must come in for the fit to be made.
    let minimum: Int

    /// Requests, validates, merges and fits, then sends the fit to every node that replied.
    /// - Throws: `AggregationError` when fewer than `minimum` nodes sent usable statistics or
    ///   the nodes read their data with different schemas; `StatisticsError.noValues` when a
    ///   column that needs a fill has no value anywhere.
    func run(_ participants: [Participant], log: (String) -> Void) throws -> Outcome {
        if let secure { return try runSecure(participants, secure: secure, log: log) }
        let request = Array(try JSONEncoder().encode(StatisticsMessages.Request(sketchSize: plan.sketchSize)))
        var failed: [String: String] = [:]
        var asked: [Participant] = []
        for p in participants {
            do {
                try p.conn.send(Frame(version: ProtocolVersion.current, type: MessageType.statsRequest.rawValue, payload: request))
                asked.append(p)
            } catch { failed[p.name] = "cannot send the statistics request: \(error)" }
        }
        let deadline = Date().addingTimeInterval(timeout)
        var schema: DatasetSchema? = nil
        var schemaSource = ""
        var received: [(name: String, statistics: SiteStatistics)] = []
        for p in asked {
            do {
                // Once a schema is known, a reply larger than its statistics can be is refused from
                // the frame header, before the payload is read.
                let limit = 4 + RoundMessages.maxHeaderBytes + (schema.map { SiteStatistics.byteBudget(schema: $0, sketchCapacity: plan.sketchSize) } ?? Self.firstReplyBytes)
                let (header, body) = try receiveReply(from: p, deadline: deadline, maxPayload: limit)
                let siteSchema = header.schema
                guard header.secure != true else { throw AggregationError("sent masked statistics where the plan has no secure aggregation") }
                if let schema {
                    guard siteSchema == schema else {
                        throw StatisticsError.schemaMismatch("'\(p.name)' reads its rows with another schema than '\(schemaSource)'")
                    }
                } else {
                    try siteSchema.validate(source: "'\(p.name)' schema")
                    try Self.checkLearnedCategories(siteSchema, secure: false, privacy: privacy != nil)
                    schema = siteSchema
                    schemaSource = p.name
                }
                let statistics = try SiteStatistics.decode(body, schema: siteSchema, sketchCapacity: plan.sketchSize)
                received.append((p.name, statistics))
            } catch {
                failed[p.name] = "\(error)"
                log("coordinator: statistics round: '\(p.name)' refused: \(error)")
            }
        }
        guard let schema, received.count >= max(minimum, 1) else {
            throw AggregationError("statistics round: \(received.count) node(s) sent usable statistics, \(max(minimum, 1)) needed"
                                   + (failed.isEmpty ? "" : " (" + failed.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ") + ")"))
        }
        let merged = SiteStatistics.merge(received.map(\.statistics), schema: schema, sketchCapacity: plan.sketchSize)
        let fitted = try FittedPreprocessing.fit(schema: schema, statistics: merged)
        try ship(fitted, to: asked.filter { failed[$0.name] == nil }, failed: &failed)
        return Outcome(preprocessing: fitted, rows: Dictionary(uniqueKeysWithValues: received.map { ($0.name, $0.statistics.rows) }), failed: failed)
    }

    /// Refuses a schema that learns categories (a categorical column without `categories`)
    /// under secure aggregation or privacy: the category texts would have to be released in the
    /// clear, which the masked sum cannot hide and the privacy accountant does not cover
    /// (protocols/wire.md, "Statistics round").
    /// - Throws: `StatisticsError.learnedCategoriesRefused` naming the columns.
    static func checkLearnedCategories(_ schema: DatasetSchema, secure: Bool, privacy: Bool) throws(StatisticsError) {
        let learned = schema.learnedColumns
        guard !learned.isEmpty, secure || privacy else { return }
        throw .learnedCategoriesRefused(features: learned, mechanism: privacy ? "privacy" : "secure aggregation")
    }

    /// Sends an existing fit (a resumed run) to every node without asking for statistics.
    func ship(_ fitted: FittedPreprocessing, to participants: [Participant], failed: inout [String: String]) throws {
        let payload = Array(try JSONEncoder().encode(StatisticsMessages.Fitted(preprocessing: fitted, normalise: plan.normalise)))
        for p in participants {
            do { try p.conn.send(Frame(version: ProtocolVersion.current, type: MessageType.preprocessing.rawValue, payload: payload)) } catch {
                failed[p.name] = "cannot send the preprocessing: \(error)"
            }
        }
    }

    /// The schema and statistics body of a node's STATS message (heartbeats skipped; an ERROR
    /// from the node is thrown with its text).
    func receiveReply(from p: Participant, deadline: Date, maxPayload: Int) throws -> (StatisticsMessages.ReplyHeader, [UInt8]) {
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw AggregationError("no statistics within \(timeout) s") }
            let frame = try p.conn.receive(timeout: left, maxPayload: maxPayload)
            switch MessageType(rawValue: frame.type) {
            case .heartbeat: continue
            case .stats:
                return try RoundMessages.parse(frame.payload, as: StatisticsMessages.ReplyHeader.self)
            case .error:
                let message = (try? JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(frame.payload)))?.message ?? "?"
                throw AggregationError("the node reported: \(message)")
            default:
                throw AggregationError("message type \(frame.type) where its statistics were expected")
            }
        }
    }
}
