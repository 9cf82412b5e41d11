import CohortData
import CohortTensor
import CohortTransport
import Foundation

/// A site's raw tabular data, kept so the node can answer the statistics round and apply the
/// preprocessing the coordinator fits (`plan.preprocessing.fit = federated`).
public struct RawSiteTable: Sendable {
    /// The schema the rows were read with.
    public var schema: DatasetSchema
    /// Training part (labelled and unlabelled rows), raw (NaN for missing): the statistics come from it.
    public var train: SiteData
    /// Validation part, raw.
    public var validation: SiteData
    /// Held-out test rows, raw.
    public var test: SiteData?
    /// Why this site could not fit its preprocessing on its own rows (e.g. a column it has no
    /// value in), or nil: then it can serve only a plan with a federated statistics round.
    public var localFitProblem: String?
    /// The texts of the schema's learned categorical columns, which the raw rows' cells index
    /// (`SchemaReader.read(path:schema:categories:)`); empty when every column lists its categories.
    public var categories: CategoryDictionary

    public init(schema: DatasetSchema, train: SiteData, validation: SiteData, test: SiteData?, categories: CategoryDictionary? = nil) {
        self.schema = schema
        self.train = train
        self.validation = validation
        self.test = test
        self.categories = categories ?? CategoryDictionary(schema: schema)
    }
}

extension FederatedNode {
    /// Answers STATS_REQUEST with this site's statistics (STATS), or an ERROR when the node has
    /// no raw table (it was not started with a tabular schema).
    func answerStatisticsRequest(_ frame: Frame, conn: FramedConnection, log: (String) -> Void) throws {
        guard let table = config.rawTable else {
            let message = "\(config.name): the plan asks for a federated statistics round, and this node has no tabular schema (start it with --schema)"
            try? conn.send(Frame(version: frame.version, type: MessageType.error.rawValue,
                                 payload: Array(try JSONEncoder().encode(["message": message]))))
            throw DataError(message)
        }
        let request: StatisticsMessages.Request
        do { request = try JSONDecoder().decode(StatisticsMessages.Request.self, from: Data(frame.payload)) } catch {
            throw TransportError("\(config.name): malformed statistics request: \(error)")
        }
        guard (1...QuantileSketch.maxCapacity).contains(request.sketchSize) else {
            throw TransportError("\(config.name): statistics request asks for a sketch of \(request.sketchSize) points (1...\(QuantileSketch.maxCapacity))")
        }
        if let secure = request.secure {
            try answerSecureStatisticsRequest(secure, table: table, version: frame.version, conn: conn, log: log)
            return
        }
        if config.requireSecureAggregation {
            let reason = "the statistics round has no secure aggregation, which --require-secure-aggregation demands"
            log("\(config.name): refusing the statistics round: \(reason)")
            _ = Handshake.refuse(conn, "node '\(config.name)' refuses the statistics round: \(reason)")
            throw PolicyRefusal(description: "\(config.name): refused the statistics round: \(reason)")
        }
        let statistics = try SiteStatistics.compute(schema: table.schema, rows: table.train.allInputs, targets: table.train.labelled.targets,
                                                    sketchCapacity: request.sketchSize, categories: table.categories)
        let body = Array(try JSONEncoder().encode(statistics))
        let payload = try RoundMessages.payload(StatisticsMessages.ReplyHeader(schema: table.schema.withoutFindings), body: body)
        do { try conn.send(Frame(version: frame.version, type: MessageType.stats.rawValue, payload: payload)) } catch {
            throw SessionLost(reason: "\(error)")
        }
        log("\(config.name): sent statistics of \(statistics.rows) training rows (\(payload.count) bytes)")
    }

    /// Applies a PREPROCESSING message: checks the fit (valid, for this node's schema), adapts
    /// it to this site under per-site normalisation, and re-encodes the site's training,
    /// validation, unlabelled and test rows with it. Only before the first round.
    func applyPreprocessing(_ frame: Frame, roundsServed: Int, log: (String) -> Void) throws {
        guard let table = config.rawTable else { throw DataError("\(config.name): received a preprocessing fit, and this node has no tabular schema") }
        let fitted: StatisticsMessages.Fitted
        do { fitted = try JSONDecoder().decode(StatisticsMessages.Fitted.self, from: Data(frame.payload)) } catch {
            throw TransportError("\(config.name): malformed preprocessing message: \(error)")
        }
        try fitted.preprocessing.validate(source: "\(config.name): the coordinator's preprocessing")
        guard table.schema.isFitted(as: fitted.preprocessing.schema) else {
            throw DataError("\(config.name): the coordinator's preprocessing is for another schema than this node's --schema")
        }
        var fit = fitted.preprocessing
        // Learned categories: the rows' local indices become indices into the shipped list.
        let rawTrain = try table.categories.resolve(table.train, with: fit.schema)
        if fitted.normalise == .perSite {
            let own = try SiteStatistics.compute(schema: fit.schema, rows: rawTrain.allInputs, sketchCapacity: 1)
            fit = fit.scaled(bySite: own)
        }
        if roundsServed > 0 || preprocessing != nil {
            // A resumed coordinator sends its fit again: the same one is fine, another would
            // change the inputs under a model trained on them.
            guard fit == preprocessing else { throw DataError("\(config.name): received a different preprocessing fit after round 1 had started") }
            return
        }
        let train = try fit.apply(rawTrain)
        let validation = try fit.apply(table.categories.resolve(table.validation, with: fit.schema))
        config.train = train.labelled
        config.validation = validation.labelled
        if config.unlabelled != nil || train.unlabelled.rows > 0 { config.unlabelled = train.unlabelled }
        if let test = table.test { config.test = try fit.apply(table.categories.resolve(test, with: fit.schema)).labelled }
        preprocessing = fit
        let learned = fit.schema.features.filter { $0.learned == true }.map { "\($0.name) \($0.values.count)" }
        log("\(config.name): applied the federated preprocessing (\(fit.rows) rows at all sites"
            + (learned.isEmpty ? "" : "; learned categories: " + learned.joined(separator: ", "))
            + (fitted.normalise == .perSite ? "; numeric columns scaled with this site's own statistics" : "") + ")")
    }

    /// Refuses a MODEL this site cannot train for: the plan fits the preprocessing federally
    /// and this node never got the fit (it joined after the statistics round: its rows would be
    /// scaled differently from everyone's), or the site could not fit on its own rows and the
    /// plan has no statistics round.
    func checkPreprocessing(_ plan: TrainingPlan) throws {
        guard preprocessing == nil else { return }
        if plan.preprocessing?.fit == .federated {
            throw DataError("\(config.name): the plan fits the preprocessing in a statistics round, and this node received no fit (it joined after the round); restart the federation with every node connected")
        }
        if let problem = config.rawTable?.localFitProblem {
            throw DataError("\(config.name): this site cannot fit its preprocessing alone (\(problem)), and the plan has no federated statistics round (preprocessing.fit federated)")
        }
    }
}
