import XCTest
import CohortCheckpoint
import CohortData
@testable import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// The federated statistics round over loopback TCP: two sites whose columns have different
/// means (and come in different orders) get one fit equal to the pooled rows' statistics, apply
/// it, and the coordinator's checkpoint carries it; malformed statistics are refused.
final class StatisticsRoundTests: XCTestCase {
    static let schemaJSON = """
    {"version": 1, "label": {"column": "y", "classes": ["no", "yes"]},
     "features": [
       {"name": "a", "type": "numeric", "missing": "median"},
       {"name": "b", "type": "numeric", "missing": "mean"},
       {"name": "c", "type": "categorical", "categories": ["p", "q", "r"], "missing": "most-frequent"}]}
    """

    private var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "cohort-stats-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func schema() throws -> DatasetSchema { try DatasetSchema.decode(Data(Self.schemaJSON.utf8), source: "s.json") }

    /// A site file with `n` rows around `shift`; `reversed` writes the columns in another order.
    private func site(_ name: String, n: Int, shift: Float, seed: UInt64, reversed: Bool, withoutA: Bool = false) throws -> String {
        var rng = SeededRandom(seed: seed)
        var text = reversed ? "c,b,a,y\n" : "y,a,b,c\n"
        for i in 0..<n {
            let a = i % 9 == 4 || withoutA ? "NA" : "\(Double((shift + 3 * rng.normal()).rounded()))"
            let b = String(format: "%.4f", Double(shift * 2 + rng.normal()))
            let c = i % 10 == 0 ? "" : ["p", "q", "r"][(i + (shift > 0 ? 1 : 0)) % 3]
            let y = rng.uniform() < 0.5 ? "no" : "yes"
            text += reversed ? "\(c),\(b),\(a),\(y)\n" : "\(y),\(a),\(b),\(c)\n"
        }
        let path = dir + "/\(name).csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func node(_ name: String, index: Int, path: String, port: UInt16) throws -> (FederatedNode, SchemaPipeline.Prepared) {
        let prepared = try SchemaPipeline.prepare(paths: [path], schema: try schema(), validationFraction: 0.2, seed: 0)
        var config = TinyFederation.node(name, secret: TinyFederation.secret(index), port: port)
        config.train = prepared.train.labelled
        config.validation = prepared.validation.labelled
        config.rawTable = RawSiteTable(schema: try schema(), train: prepared.rawTrain, validation: prepared.rawValidation, test: nil)
        return (FederatedNode(config: config), prepared)
    }

    private func federate(normalise: PreprocessingPlan.Normalise) throws
        -> (nodes: [FederatedNode], prepared: [SchemaPipeline.Prepared], checkpoint: Checkpoint, log: [String])
    {
        let spec = ModelSpec(inputShape: [5], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["east", "west"], spec: spec) { config in
            config.rounds = 1
            config.minNodes = 2
            config.plan.preprocessing = PreprocessingPlan(fit: .federated, normalise: normalise)
        }
        defer { cleanup() }
        let paths = [try site("east", n: 90, shift: -20, seed: 1, reversed: false), try site("west", n: 60, shift: 40, seed: 2, reversed: true)]
        let built = try ["east", "west"].enumerated().map { try node($0.element, index: $0.offset, path: paths[$0.offset], port: coordinator.port) }
        let results = ResultsBox()
        let done = DispatchGroup()
        for (node, _) in built {
            done.enter()
            let box = NodeBox(node)
            Thread {
                defer { done.leave() }
                do { results.set(box.node.config.name, "rounds \(try box.node.run())") } catch { results.set(box.node.config.name, "\(error)") }
            }.start()
        }
        let lines = LinesBox()
        let records = try coordinator.run { lines.append($0) }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(results.get("east"), "rounds 1")
        XCTAssertEqual(results.get("west"), "rounds 1")
        let checkpoint = try CheckpointFile.load(coordinator.config.outDir + "/global.ckpt")
        return (built.map(\.0), built.map(\.1), checkpoint, lines.all)
    }

    func testShippedFitEqualsPooledStatisticsAndNodesApplyIt() throws {
        let (nodes, prepared, checkpoint, log) = try federate(normalise: .global)
        let shipped = try XCTUnwrap(checkpoint.metadata.preprocessing, "the coordinator's checkpoint carries the fit")
        // The pooled training rows of both sites, fitted directly.
        let parts = prepared.map { $0.rawTrain.allInputs }
        let pooledRows = Tensor(shape: [parts.reduce(0) { $0 + $1.rows }, 3], data: parts.flatMap(\.data))
        let pooled = try FittedPreprocessing.fit(schema: try schema(), rows: pooledRows)
        XCTAssertEqual(shipped.rows, pooled.rows)
        for (f, p) in zip(shipped.columns, pooled.columns) {
            XCTAssertEqual(f.center, p.center, accuracy: 1e-4 * max(1, abs(p.center)), f.name)
            XCTAssertEqual(f.scale, p.scale, accuracy: 1e-4 * p.scale, f.name)
            XCTAssertEqual(f.fill ?? -1, p.fill ?? -1, accuracy: 1e-4 * max(1, abs(p.fill ?? 1)), f.name)
            XCTAssertEqual(f.categoryCounts, p.categoryCounts, f.name)
        }
        // Different means: the pooled centre of `a` is far from either site's own.
        XCTAssertGreaterThan(abs(prepared[0].preprocessing.columns[0].center - shipped.columns[0].center), 10)
        for (node, part) in zip(nodes, prepared) {
            XCTAssertEqual(node.preprocessing, shipped, "\(node.config.name) applies exactly the shipped fit")
            XCTAssertEqual(node.config.train.inputs.data, try shipped.encode(part.rawTrain.labelled.inputs).data)
            XCTAssertEqual(node.config.validation.inputs.data, try shipped.encode(part.rawValidation.labelled.inputs).data)
        }
        XCTAssertTrue(log.contains { $0.contains("statistics round: fitted the preprocessing on \(pooled.rows) rows") }, "\(log)")
    }

    func testPerSiteNormalisationScalesWithEachSitesOwnStatistics() throws {
        let (nodes, prepared, checkpoint, _) = try federate(normalise: .perSite)
        let shipped = try XCTUnwrap(checkpoint.metadata.preprocessing)
        for (node, part) in zip(nodes, prepared) {
            let applied = try XCTUnwrap(node.preprocessing)
            // Centre and scale are the site's own (fitted on its training rows), fills the federation's.
            XCTAssertEqual(applied.columns[1].center, part.preprocessing.columns[1].center, accuracy: 1e-3)
            XCTAssertEqual(applied.columns[1].scale, part.preprocessing.columns[1].scale, accuracy: 1e-3)
            XCTAssertEqual(applied.columns[1].fill, shipped.columns[1].fill)
            XCTAssertNotEqual(applied.columns[1].center, shipped.columns[1].center)
        }
    }

    /// A node whose statistics have the wrong size is refused with the reason, and the round cannot fit
    /// without it (both nodes are needed).
    func testMalformedStatisticsOverTheWireAreRefused() throws {
        let spec = ModelSpec(inputShape: [5], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["east", "liar"], spec: spec) { config in
            config.rounds = 1
            config.minNodes = 2
            config.waitForNodes = 10
            config.plan.preprocessing = PreprocessingPlan(fit: .federated)
        }
        defer { cleanup() }
        let path = try site("east", n: 30, shift: 0, seed: 3, reversed: false)
        let (honest, _) = try node("east", index: 0, path: path, port: coordinator.port)
        let s = try schema()
        let port = coordinator.port
        let box = NodeBox(honest)
        Thread { _ = try? box.node.run() }.start()
        Thread {
            // The liar: a real handshake, then statistics of the wrong size.
            guard let socket = try? TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 5) else { return }
            let conn = FramedConnection(stream: socket, maxPayload: 1 << 20, readTimeout: 10, writeTimeout: 10)
            guard (try? Handshake.connect(conn, node: "liar", secret: TinyFederation.secret(1), samples: 10)) != nil else { return }
            while let frame = try? conn.receive(timeout: 10) {
                guard frame.type == MessageType.statsRequest.rawValue else { continue }
                // One entry short of the schema's three features.
                guard var stats = try? SiteStatistics.compute(schema: s, rows: Tensor(shape: [2, 3], data: [1, 2, 0, 3, 4, 1]), sketchCapacity: 16) else { return }
                stats.features.removeLast()
                let body = Array((try? JSONEncoder().encode(stats)) ?? Data())
                guard let payload = try? RoundMessages.payload(StatisticsMessages.ReplyHeader(schema: s), body: body) else { return }
                try? conn.send(Frame(version: ProtocolVersion.current, type: MessageType.stats.rawValue, payload: payload))
            }
        }.start()
        let lines = LinesBox()
        XCTAssertThrowsError(try coordinator.run { lines.append($0) }) { error in
            XCTAssertTrue("\(error)".contains("1 node(s) sent usable statistics, 2 needed"), "\(error)")
            XCTAssertTrue("\(error)".contains("liar"), "\(error)")
        }
        XCTAssertTrue(lines.all.contains { $0.contains("'liar' refused: statistics for 2 features, the schema has 3") }, "\(lines.all)")
    }

    /// A site that never measured `a` cannot fit a median for it alone; it serves a federated
    /// plan with the fill the other site's rows give, and refuses a plan without the round.
    func testSiteWithoutAColumnsValuesGetsItsFillFromTheFederation() throws {
        let spec = ModelSpec(inputShape: [5], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["east", "west"], spec: spec) { config in
            config.rounds = 1
            config.minNodes = 2
            config.plan.preprocessing = PreprocessingPlan(fit: .federated)
        }
        defer { cleanup() }
        let (east, _) = try node("east", index: 0, path: try site("east", n: 50, shift: 10, seed: 5, reversed: false), port: coordinator.port)
        // West as `cohort node` builds it when its own fit fails: raw rows, zero-width placeholders.
        let s = try schema()
        let raw = try SchemaPipeline.readSplit(paths: [try site("west", n: 40, shift: 0, seed: 6, reversed: true, withoutA: true)], schema: s,
                                               validationFraction: 0.2, seed: 0)
        XCTAssertThrowsError(try SchemaPipeline.fitted(train: raw.train, validation: raw.validation, schema: s, source: "west.csv"))
        func placeholder(_ d: LabelledData) -> LabelledData { LabelledData(inputs: Tensor(shape: [d.count, 0], data: []), labels: d.labels) }
        var config = TinyFederation.node("west", secret: TinyFederation.secret(1), port: coordinator.port)
        config.train = placeholder(raw.train.labelled)
        config.validation = placeholder(raw.validation.labelled)
        config.rawTable = RawSiteTable(schema: s, train: raw.train, validation: raw.validation, test: nil)
        config.rawTable!.localFitProblem = "column 'a': no values"
        let west = FederatedNode(config: config)
        XCTAssertThrowsError(try west.checkPreprocessing(TrainingPlan())) { XCTAssertTrue("\($0)".contains("cannot fit its preprocessing alone"), "\($0)") }
        let results = ResultsBox()
        let done = DispatchGroup()
        for node in [east, west] {
            done.enter()
            let box = NodeBox(node)
            Thread {
                defer { done.leave() }
                do { results.set(box.node.config.name, "rounds \(try box.node.run())") } catch { results.set(box.node.config.name, "\(error)") }
            }.start()
        }
        _ = try coordinator.run()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(results.get("west"), "rounds 1")
        let fit = try XCTUnwrap(west.preprocessing)
        let fill = try XCTUnwrap(fit.columns[0].fill)
        XCTAssertEqual(west.config.train.inputs.columns, 5)
        XCTAssertEqual(west.config.train.count, raw.train.labelled.count)
        for i in 0..<west.config.train.count {
            XCTAssertEqual(west.config.train.inputs.data[i * 5], (fill - fit.columns[0].center) / fit.columns[0].scale, accuracy: 1e-6)
        }
        XCTAssertEqual(Double(fill), 10, accuracy: 4, "the median of east's values (around 10)")
    }

    func testPlanTakesFederatedStatisticsUnderSecureAggregation() throws {
        var plan = TrainingPlan()
        plan.preprocessing = PreprocessingPlan(fit: .federated)
        XCTAssertNoThrow(try plan.validate())
        plan.secureAggregation = SecureAggregationPlan()
        XCTAssertNoThrow(try plan.validate(), "the additive statistics go through the masked sum")
        plan.secureAggregation = nil
        plan.privacy = try JSONDecoder().decode(PrivacyPlan.self, from: Data(#"{"noiseMultiplier": 1, "clipNorm": 1}"#.utf8))
        XCTAssertThrowsError(try plan.validate()) { XCTAssertTrue("\($0)".contains("preprocessing.fit 'federated' under privacy needs secureAggregation"), "\($0)") }
        var perSite = TrainingPlan()
        perSite.preprocessing = PreprocessingPlan(fit: .local, normalise: .perSite)
        XCTAssertThrowsError(try perSite.validate())
        let decoded = try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"preprocessing": {"fit": "federated", "normalise": "per-site"}}"#.utf8))
        XCTAssertEqual(decoded.preprocessing, PreprocessingPlan(fit: .federated, normalise: .perSite, sketchSize: 256))
    }
}

/// Hands a node to a thread.
final class NodeBox: @unchecked Sendable {
    let node: FederatedNode
    init(_ node: FederatedNode) { self.node = node }
}

/// Log lines collected from the coordinator's threads.
final class LinesBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
