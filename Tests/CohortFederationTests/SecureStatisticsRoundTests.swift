import XCTest
import CohortCheckpoint
import CohortData
@testable import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// The statistics round under secure aggregation: the wide fixed point sums exactly, the
/// additive vector round-trips, and over loopback TCP the masked sum of two sites' statistics
/// gives the pooled rows' fit; a schema that needs a median is refused with the reason.
final class SecureStatisticsRoundTests: XCTestCase {
    static let schemaJSON = """
    {"version": 1, "label": {"column": "y", "classes": ["no", "yes"]},
     "features": [
       {"name": "a", "type": "numeric", "missing": "mean"},
       {"name": "b", "type": "numeric", "missing": "constant", "fill": "0"},
       {"name": "c", "type": "categorical", "categories": ["p", "q", "r"], "missing": "most-frequent"}]}
    """

    private var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "cohort-secstats-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func schema(_ json: String = schemaJSON) throws -> DatasetSchema { try DatasetSchema.decode(Data(json.utf8), source: "s.json") }

    // MARK: - Encoding

    /// Words of several sites summed modulo 2³² (as the masked sum does) decode to the sum of
    /// their values: counts exactly, reals within k·2⁻³³, negative values and values near 2⁷⁹ too.
    func testWideFixedPointSumsExactly() throws {
        let sites: [[Double]] = [
            [146, -20.5, 1.234_567_89e18, 0x1p78, -3.25, 0.1],
            [74, 80.25, 9.876_543_21e17, 0x1p78 * 0.99, -1e-9, 0.2],
            [1, -0.000_001, 0, -0x1p78, 7, 0.3],
        ]
        var sum = [UInt32](repeating: 0, count: StatisticsFixedPoint.length(values: 6))
        for s in sites {
            let words = try StatisticsFixedPoint.encode(s)
            XCTAssertEqual(words.count, 48)
            XCTAssertTrue(words.allSatisfy { $0 < 1 << 16 }, "every word is a 16-bit limb")
            for i in sum.indices { sum[i] &+= words[i] }
        }
        let decoded = try StatisticsFixedPoint.decode(sum: sum, values: 6)
        XCTAssertEqual(decoded[0], 221, "a count comes back exactly")
        for j in 1..<6 {
            let exact = sites.reduce(0.0) { $0 + $1[j] }
            // The decoded Double is the exact fixed-point sum rounded once; each site's rounding ≤ 2⁻³³.
            XCTAssertEqual(decoded[j], exact, accuracy: 3 * 0x1p-33 + abs(exact) * 0x1p-52, "entry \(j)")
        }
        // 32-bit fixed point (the model rounds' encoding) could not hold Σx² ≈ 2.2e18 at all.
        XCTAssertGreaterThan(decoded[2], Double(Int32.max))
    }

    func testValuesOutsideTheRangeAreRefusedByIndex() {
        XCTAssertThrowsError(try StatisticsFixedPoint.encode([1, 0x1p79])) { XCTAssertEqual($0 as? StatisticsFixedPoint.Failure, .outOfRange(index: 1, value: 0x1p79)) }
        XCTAssertThrowsError(try StatisticsFixedPoint.encode([.nan])) {
            guard case .outOfRange(let i, _)? = $0 as? StatisticsFixedPoint.Failure else { return XCTFail("\($0)") }
            XCTAssertEqual(i, 0)
        }
        XCTAssertThrowsError(try StatisticsFixedPoint.decode(sum: [1, 2, 3], values: 1)) { XCTAssertEqual($0 as? StatisticsFixedPoint.Failure, .length(got: 3, expected: 8)) }
    }

    /// The sum of two sites' additive vectors is the additive vector of their merge.
    func testAdditiveVectorsSumToTheMerge() throws {
        let s = try schema()
        let x = Tensor(shape: [4, 3], data: [1, 10, 0, .nan, 20, 2, 3, .nan, 2, 5, 40, .nan])
        let y = Tensor(shape: [2, 3], data: [-7, 1, 1, 2, 2, 0])
        let sx = try SiteStatistics.compute(schema: s, rows: x, sketchCapacity: 16)
        let sy = try SiteStatistics.compute(schema: s, rows: y, sketchCapacity: 16)
        let vx = sx.additiveVector(schema: s), vy = sy.additiveVector(schema: s)
        XCTAssertEqual(vx.count, SiteStatistics.additiveLength(schema: s))
        XCTAssertEqual(SiteStatistics.additiveLabels(schema: s).count, vx.count)
        let total = try SiteStatistics.fromAdditive(zip(vx, vy).map { $0 + $1 }, schema: s)
        var merged = SiteStatistics.merge([sx, sy], schema: s, sketchCapacity: 16)
        for j in merged.features.indices { merged.features[j].sketch = nil }
        XCTAssertEqual(total, merged)
        XCTAssertEqual(total.features[0].sum, 1 + 3 + 5 - 7 + 2)
        XCTAssertEqual(total.features[2].categoryCounts, [2, 1, 2])
        // A fractional count (a site that lies) is refused, as is a negative one.
        var bad = vx
        bad[1] += 0.5
        XCTAssertThrowsError(try SiteStatistics.fromAdditive(bad, schema: s)) {
            guard case .inconsistentCounts(let f, _)? = $0 as? StatisticsError else { return XCTFail("\($0)") }
            XCTAssertEqual(f, "a")
        }
        bad = vx
        bad[0] = -4
        XCTAssertThrowsError(try SiteStatistics.fromAdditive(bad, schema: s))
        // Fitting without sketches: a median cannot be made, the other fills can.
        let fit = try FittedPreprocessing.fit(schema: s, statistics: total)
        XCTAssertNil(fit.columns[0].median)
        XCTAssertEqual(Double(fit.columns[0].center), 4.0 / 5, accuracy: 1e-6)
        let medianSchema = try schema(Self.schemaJSON.replacingOccurrences(of: #""missing": "mean""#, with: #""missing": "median""#))
        XCTAssertEqual(SiteStatistics.columnsNeedingSketch(schema: medianSchema), ["a"])
        XCTAssertThrowsError(try FittedPreprocessing.fit(schema: medianSchema, statistics: total)) {
            XCTAssertEqual($0 as? StatisticsError, .needsSketch(feature: "a", policy: "median"))
        }
    }

    // MARK: - Over loopback

    private func site(_ name: String, n: Int, shift: Float, seed: UInt64) throws -> String {
        var rng = SeededRandom(seed: seed)
        var text = "y,a,b,c\n"
        for i in 0..<n {
            let a = i % 9 == 4 ? "NA" : String(format: "%.3f", Double(shift + 3 * rng.normal()))
            let b = String(format: "%.4f", Double(shift * 2 + rng.normal()))
            let c = i % 10 == 0 ? "" : ["p", "q", "r"][(i + (shift > 0 ? 1 : 0)) % 3]
            text += "\(rng.uniform() < 0.5 ? "no" : "yes"),\(a),\(b),\(c)\n"
        }
        let path = dir + "/\(name).csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func node(_ name: String, index: Int, path: String, port: UInt16, schema s: DatasetSchema) throws -> (FederatedNode, SchemaPipeline.Prepared) {
        let prepared = try SchemaPipeline.prepare(paths: [path], schema: s, validationFraction: 0.2, seed: 0)
        var config = TinyFederation.node(name, secret: TinyFederation.secret(index), port: port)
        config.train = prepared.train.labelled
        config.validation = prepared.validation.labelled
        config.rawTable = RawSiteTable(schema: s, train: prepared.rawTrain, validation: prepared.rawValidation, test: nil)
        return (FederatedNode(config: config), prepared)
    }

    /// Two sites under `secureAggregation`: the coordinator never sees either site's statistics,
    /// and the fit it ships from their masked sum equals the pooled training rows' fit.
    func testMaskedSumGivesThePooledFit() throws {
        let s = try schema()
        let spec = ModelSpec(inputShape: [5], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["east", "west"], spec: spec) { config in
            config.rounds = 1
            config.minNodes = 2
            config.plan.preprocessing = PreprocessingPlan(fit: .federated)
            config.plan.secureAggregation = SecureAggregationPlan()
        }
        defer { cleanup() }
        let paths = [try site("east", n: 90, shift: -20, seed: 1), try site("west", n: 60, shift: 40, seed: 2)]
        let built = try ["east", "west"].enumerated().map { try node($0.element, index: $0.offset, path: paths[$0.offset], port: coordinator.port, schema: s) }
        let results = ResultsBox(), nodeLines = LinesBox()
        let done = DispatchGroup()
        for (node, _) in built {
            done.enter()
            let box = NodeBox(node)
            Thread {
                defer { done.leave() }
                do { results.set(box.node.config.name, "rounds \(try box.node.run { nodeLines.append($0) })") } catch { results.set(box.node.config.name, "\(error)") }
            }.start()
        }
        let lines = LinesBox()
        let records = try coordinator.run { lines.append($0) }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(results.get("east"), "rounds 1")
        XCTAssertEqual(results.get("west"), "rounds 1")
        let shipped = try XCTUnwrap(try CheckpointFile.load(coordinator.config.outDir + "/global.ckpt").metadata.preprocessing)
        let parts = built.map { $0.1.rawTrain.allInputs }
        let pooled = try FittedPreprocessing.fit(schema: s, rows: Tensor(shape: [parts.reduce(0) { $0 + $1.rows }, 3], data: parts.flatMap(\.data)))
        XCTAssertEqual(shipped.rows, pooled.rows)
        for (f, p) in zip(shipped.columns, pooled.columns) {
            XCTAssertEqual(f.count, p.count, f.name)
            XCTAssertEqual(f.center, p.center, accuracy: 1e-4 * max(1, abs(p.center)), f.name)
            XCTAssertEqual(f.scale, p.scale, accuracy: 1e-4 * p.scale, f.name)
            XCTAssertEqual(f.fill ?? -1, p.fill ?? -1, accuracy: 1e-4 * max(1, abs(p.fill ?? 1)), f.name)
            XCTAssertEqual(f.categoryCounts, p.categoryCounts, f.name)
        }
        // The pooled centre of `a` lies between the sites' (-20 and 40): the sum has both.
        XCTAssertGreaterThan(shipped.columns[0].center, -5)
        XCTAssertLessThan(shipped.columns[0].center, 25)
        for (node, _) in built { XCTAssertEqual(node.preprocessing, shipped, node.config.name) }
        XCTAssertTrue(lines.all.contains { $0.contains("summed the additive statistics of 2 node(s) under secure aggregation") }, "\(lines.all)")
        XCTAssertTrue(lines.all.contains { $0.contains("summed under secure aggregation from east, west") }, "\(lines.all)")
        XCTAssertFalse(lines.all.contains { $0.contains("east \(built[0].1.rawTrain.allInputs.rows)") }, "no site's row count is logged")
        XCTAssertTrue(nodeLines.all.contains { $0.contains("sent the masked statistics") }, "\(nodeLines.all)")
    }

    /// Under secure aggregation a schema with a median fill is refused by the nodes before
    /// anything is sent, with the reason; the coordinator's error carries it.
    func testMedianFillIsRefusedUnderSecureAggregation() throws {
        let s = try schema(Self.schemaJSON.replacingOccurrences(of: #""missing": "mean""#, with: #""missing": "median""#))
        let spec = ModelSpec(inputShape: [5], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["east", "west"], spec: spec) { config in
            config.rounds = 1
            config.minNodes = 2
            config.plan.preprocessing = PreprocessingPlan(fit: .federated)
            config.plan.secureAggregation = SecureAggregationPlan()
        }
        defer { cleanup() }
        let paths = [try site("east", n: 30, shift: 1, seed: 3), try site("west", n: 30, shift: 2, seed: 4)]
        let built = try ["east", "west"].enumerated().map { try node($0.element, index: $0.offset, path: paths[$0.offset], port: coordinator.port, schema: s) }
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
        XCTAssertThrowsError(try coordinator.run()) { error in
            XCTAssertTrue("\(error)".contains("0 node(s) sent their schema, 2 needed"), "\(error)")
            XCTAssertTrue("\(error)".contains("column 'a': the 'median' fill needs the sites' quantile sketches"), "\(error)")
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertTrue(results.get("east")?.contains("refused the statistics round") == true, results.get("east") ?? "nil")
    }

    /// A node that demands secure aggregation refuses a statistics round in the clear.
    func testNodeRequiringSecureAggregationRefusesAPlainRound() throws {
        let s = try schema()
        let spec = ModelSpec(inputShape: [5], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["east"], spec: spec) { config in
            config.rounds = 1
            config.minNodes = 1
            config.plan.preprocessing = PreprocessingPlan(fit: .federated)
        }
        defer { cleanup() }
        var (node, _) = try node("east", index: 0, path: try site("east", n: 30, shift: 1, seed: 3), port: coordinator.port, schema: s)
        var config = node.config
        config.requireSecureAggregation = true
        node = FederatedNode(config: config)
        let results = ResultsBox()
        let done = DispatchGroup()
        done.enter()
        let box = NodeBox(node)
        Thread {
            defer { done.leave() }
            do { results.set("east", "rounds \(try box.node.run())") } catch { results.set("east", "\(error)") }
        }.start()
        XCTAssertThrowsError(try coordinator.run()) { XCTAssertTrue("\($0)".contains("--require-secure-aggregation"), "\($0)") }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertTrue(results.get("east")?.contains("refused the statistics round") == true, results.get("east") ?? "nil")
    }
}
