import XCTest
import CohortCheckpoint
import CohortData
@testable import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// Categories learned in the statistics round (a categorical column without `categories`):
/// over loopback the sites' texts and counts are merged into one list that every node applies
/// and the checkpoint carries; under secure aggregation or privacy such a schema is refused
/// with the columns named.
final class LearnedCategoriesRoundTests: XCTestCase {
    static let schemaJSON = """
    {"version": 1, "label": {"column": "y", "classes": ["no", "yes"]},
     "features": [{"name": "a", "type": "numeric", "missing": "mean"},
                  {"name": "c", "type": "categorical", "missing": "most-frequent"}]}
    """

    private var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "cohort-learnround-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A site whose column `c` takes the values `values` in turn (a few missing).
    private func site(_ name: String, n: Int, values: [String]) throws -> String {
        var rng = SeededRandom(seed: UInt64(n))
        var text = "y,a,c\n"
        for i in 0..<n {
            let c = i % 11 == 3 ? "NA" : values[i % values.count]
            text += "\(rng.uniform() < 0.5 ? "no" : "yes"),\(String(format: "%.3f", Double(rng.normal()))),\(c)\n"
        }
        let path = dir + "/\(name).csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func node(_ name: String, index: Int, path: String, port: UInt16, schema s: DatasetSchema) throws -> FederatedNode {
        var categories = CategoryDictionary(schema: s)
        let raw = try SchemaPipeline.readSplit(paths: [path], schema: s, validationFraction: 0.2, seed: 0, categories: &categories)
        var config = TinyFederation.node(name, secret: TinyFederation.secret(index), port: port)
        // Zero-width placeholders until the federation's fit arrives (as `cohort node` does).
        config.train = LabelledData(inputs: Tensor(shape: [raw.train.labelled.count, 0], data: []), labels: raw.train.labelled.labels)
        config.validation = LabelledData(inputs: Tensor(shape: [raw.validation.labelled.count, 0], data: []), labels: raw.validation.labelled.labels)
        config.rawTable = RawSiteTable(schema: s, train: raw.train, validation: raw.validation, test: nil, categories: categories)
        return FederatedNode(config: config)
    }

    private func run(_ nodes: [FederatedNode]) -> (ResultsBox, DispatchGroup) {
        let results = ResultsBox(), done = DispatchGroup()
        for node in nodes {
            done.enter()
            let box = NodeBox(node)
            Thread {
                defer { done.leave() }
                do { results.set(box.node.config.name, "rounds \(try box.node.run())") } catch { results.set(box.node.config.name, "\(error)") }
            }.start()
        }
        return (results, done)
    }

    /// East never sees `r`; the shipped list is the union by descending count, every node
    /// applies it, and it equals the local fit on the pooled training rows.
    func testSitesLearnTheUnionOfTheirCategories() throws {
        let s = try DatasetSchema.decode(Data(Self.schemaJSON.utf8), source: "s.json")
        let spec = ModelSpec(inputShape: [4], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["east", "west"], spec: spec) { config in
            config.rounds = 1
            config.minNodes = 2
            config.plan.preprocessing = PreprocessingPlan(fit: .federated)
        }
        defer { cleanup() }
        let paths = [try site("east", n: 60, values: ["p", "q", "q"]), try site("west", n: 50, values: ["r", "q", "r", "r"])]
        let nodes = try ["east", "west"].enumerated().map { try node($0.element, index: $0.offset, path: paths[$0.offset], port: coordinator.port, schema: s) }
        let (results, done) = run(nodes)
        let records = try coordinator.run()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(results.get("east"), "rounds 1")
        XCTAssertEqual(results.get("west"), "rounds 1")
        let shipped = try XCTUnwrap(try CheckpointFile.load(coordinator.config.outDir + "/global.ckpt").metadata.preprocessing)
        XCTAssertEqual(shipped.schema.features[1].learned, true)
        XCTAssertEqual(Set(shipped.schema.features[1].values), ["p", "q", "r"], "the union, though east never saw r")
        // The pooled training rows, fitted locally with the same rules.
        var pooledTexts: [LearnedCategories.Counts] = []
        for p in paths {
            var categories = CategoryDictionary(schema: s)
            let raw = try SchemaPipeline.readSplit(paths: [p], schema: s, validationFraction: 0.2, seed: 0, categories: &categories)
            pooledTexts.append(categories.counts(in: raw.train.allInputs)[1]!)
        }
        let expected = LearnedCategories.order(LearnedCategories.merge(pooledTexts), minCount: 1)
        XCTAssertEqual(shipped.schema.features[1].categories, expected.texts)
        XCTAssertEqual(shipped.columns[1].categoryCounts, expected.counts)
        for node in nodes {
            XCTAssertEqual(node.preprocessing, shipped, node.config.name)
            XCTAssertEqual(node.config.train.inputs.columns, 4, "a + three categories")
        }
    }

    /// Under secure aggregation the nodes refuse before sending anything, naming the column.
    func testLearnedCategoriesAreRefusedUnderSecureAggregation() throws {
        let s = try DatasetSchema.decode(Data(Self.schemaJSON.utf8), source: "s.json")
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["east", "west"], spec: ModelSpec(inputShape: [4], layers: [LayerSpec(.dense, name: "head", units: 2)])) { config in
            config.rounds = 1
            config.minNodes = 2
            config.plan.preprocessing = PreprocessingPlan(fit: .federated)
            config.plan.secureAggregation = SecureAggregationPlan()
        }
        defer { cleanup() }
        let paths = [try site("east", n: 30, values: ["p", "q"]), try site("west", n: 30, values: ["q", "r"])]
        let nodes = try ["east", "west"].enumerated().map { try node($0.element, index: $0.offset, path: paths[$0.offset], port: coordinator.port, schema: s) }
        let (results, done) = run(nodes)
        XCTAssertThrowsError(try coordinator.run()) { error in
            XCTAssertTrue("\(error)".contains("learns the categories of column 'c'"), "\(error)")
            XCTAssertTrue("\(error)".contains("list the categories of that column in the schema"), "\(error)")
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertTrue(results.get("east")?.contains("under secure aggregation the category texts cannot be released") == true, results.get("east") ?? "nil")
    }

    /// The coordinator's own check, for a schema that reaches it (e.g. a node of another build).
    func testCoordinatorCheckNamesTheColumnsAndTheMechanism() throws {
        let s = try DatasetSchema.decode(Data(Self.schemaJSON.utf8), source: "s.json")
        XCTAssertNoThrow(try StatisticsRound.checkLearnedCategories(s, secure: false, privacy: false))
        XCTAssertThrowsError(try StatisticsRound.checkLearnedCategories(s, secure: true, privacy: false)) {
            XCTAssertEqual($0 as? StatisticsError, .learnedCategoriesRefused(features: ["c"], mechanism: "secure aggregation"))
        }
        XCTAssertThrowsError(try StatisticsRound.checkLearnedCategories(s, secure: true, privacy: true)) {
            XCTAssertEqual($0 as? StatisticsError, .learnedCategoriesRefused(features: ["c"], mechanism: "privacy"))
        }
        var listed = s
        listed.features[1].categories = ["p", "q"]
        XCTAssertNoThrow(try StatisticsRound.checkLearnedCategories(listed, secure: true, privacy: true))
    }
}
