import XCTest
import CohortCheckpoint
import CohortData
@testable import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// The statistics round under differential privacy (with secure aggregation): each site's
/// vector is bounded by the sensitivity whatever its data; over loopback the noisy release gives
/// the equal-weight fit within the noise, and its ε is composed with the rounds' by the one
/// accountant (the journal's ε is larger than the rounds' alone).
final class PrivateStatisticsRoundTests: XCTestCase {
    static let schemaJSON = """
    {"version": 1, "label": {"column": "y", "classes": ["no", "yes"]},
     "features": [
       {"name": "a", "type": "numeric", "missing": "mean"},
       {"name": "b", "type": "numeric"},
       {"name": "c", "type": "categorical", "categories": ["p", "q", "r"], "missing": "most-frequent"}]}
    """
    static let bounds: [String: [Double]] = ["a": [-60, 80], "b": [-150, 150]]

    private var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "cohort-privstats-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func schema() throws -> DatasetSchema { try DatasetSchema.decode(Data(Self.schemaJSON.utf8), source: "s.json") }

    /// Any site's vector, even with values far outside the bounds and any mix of missing cells,
    /// has L2 norm ≤ S; the noise-free statistics of one site give its clipped mean and variance.
    func testVectorNormIsBoundedAndStatisticsComeBack() throws {
        let s = try schema()
        XCTAssertEqual(PrivateStatistics.sensitivity(schema: s), 8.0.squareRoot())
        var rng = SeededRandom(seed: 9)
        for trial in 0..<50 {
            let n = 1 + trial * 3
            var data: [Float] = []
            for _ in 0..<n {
                data.append(rng.uniform() < 0.2 ? .nan : 1000 * rng.normal())
                data.append(rng.uniform() < 0.1 ? .nan : 100 * rng.normal())
                data.append(rng.uniform() < 0.3 ? .nan : Float(Int(rng.uniform() * 3)))
            }
            let v = try PrivateStatistics.vector(schema: s, rows: Tensor(shape: [n, 3], data: data), bounds: Self.bounds)
            XCTAssertEqual(v.count, PrivateStatistics.length(schema: s))
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertLessThanOrEqual(norm, PrivateStatistics.sensitivity(schema: s) + 1e-12, "trial \(trial)")
        }
        // Values inside the bounds: the mean and population variance come back exactly.
        let rows = Tensor(shape: [4, 3], data: [10, 0, 0, 20, 1, 1, .nan, 2, 1, 30, 3, .nan])
        let v = try PrivateStatistics.vector(schema: s, rows: rows, bounds: Self.bounds)
        let back = try PrivateStatistics.statistics(average: v, schema: s, bounds: Self.bounds, rows: 4)
        let exact = try SiteStatistics.compute(schema: s, rows: rows, sketchCapacity: 16)
        for j in 0..<2 {
            XCTAssertEqual(back.features[j].count, exact.features[j].count)
            XCTAssertEqual(back.features[j].sum!, exact.features[j].sum!, accuracy: 1e-9)
            XCTAssertEqual(back.features[j].sumSquares!, exact.features[j].sumSquares!, accuracy: 1e-7)
        }
        XCTAssertEqual(back.features[2].categoryCounts, [1, 2, 0])
        XCTAssertNoThrow(try back.validate(schema: s, sketchCapacity: 1, sketches: false))
        // A numeric column without bounds is refused by name.
        XCTAssertThrowsError(try PrivateStatistics.vector(schema: s, rows: rows, bounds: ["a": [0, 1]])) {
            guard case .wrongFields(let f, _)? = $0 as? StatisticsError else { return XCTFail("\($0)") }
            XCTAssertEqual(f, "b")
        }
    }

    func testPlanNeedsSecureAggregationAndValidBounds() throws {
        var plan = TrainingPlan()
        plan.preprocessing = PreprocessingPlan(fit: .federated, bounds: Self.bounds)
        plan.privacy = try JSONDecoder().decode(PrivacyPlan.self, from: Data(#"{"noiseMultiplier": 1, "clipNorm": 1}"#.utf8))
        XCTAssertThrowsError(try plan.validate()) { XCTAssertTrue("\($0)".contains("under privacy needs secureAggregation"), "\($0)") }
        plan.secureAggregation = SecureAggregationPlan()
        XCTAssertNoThrow(try plan.validate())
        plan.preprocessing?.bounds = ["a": [3, 3]]
        XCTAssertThrowsError(try plan.validate()) { XCTAssertTrue("\($0)".contains("preprocessing.bounds['a']"), "\($0)") }
        plan.preprocessing?.bounds = nil
        plan.preprocessing?.noiseMultiplier = 0
        XCTAssertThrowsError(try plan.validate()) { XCTAssertTrue("\($0)".contains("preprocessing.noiseMultiplier"), "\($0)") }
        let decoded = try JSONDecoder().decode(PreprocessingPlan.self, from: Data(#"{"fit": "federated", "bounds": {"a": [-1, 2]}, "noiseMultiplier": 0.5}"#.utf8))
        XCTAssertEqual(decoded.bounds, ["a": [-1, 2]])
        XCTAssertEqual(decoded.noiseMultiplier, 0.5)
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

    private func federate(mode: String) throws -> (fit: FittedPreprocessing, expected: FittedPreprocessing, records: [Coordinator.RoundRecord], log: [String], sigma: Double) {
        let s = try schema()
        let spec = ModelSpec(inputShape: [5], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let privacy = try JSONDecoder().decode(PrivacyPlan.self, from: Data(#"{"noiseMultiplier": 1.5, "clipNorm": 1, "mode": "\#(mode)"}"#.utf8))
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["east", "west"], spec: spec) { config in
            config.rounds = 1
            config.minNodes = 2
            config.plan.preprocessing = PreprocessingPlan(fit: .federated, bounds: Self.bounds, noiseMultiplier: 0.001)
            config.plan.secureAggregation = SecureAggregationPlan()
            config.plan.privacy = privacy
        }
        defer { cleanup() }
        let paths = [try site("east", n: 90, shift: -20, seed: 1), try site("west", n: 60, shift: 40, seed: 2)]
        var nodes: [FederatedNode] = [], vectors: [[Double]] = []
        for (i, name) in ["east", "west"].enumerated() {
            let prepared = try SchemaPipeline.prepare(paths: [paths[i]], schema: s, validationFraction: 0.2, seed: 0)
            var config = TinyFederation.node(name, secret: TinyFederation.secret(i), port: coordinator.port)
            config.train = prepared.train.labelled
            config.validation = prepared.validation.labelled
            config.rawTable = RawSiteTable(schema: s, train: prepared.rawTrain, validation: prepared.rawValidation, test: nil)
            nodes.append(FederatedNode(config: config))
            vectors.append(try PrivateStatistics.vector(schema: s, rows: prepared.rawTrain.allInputs, bounds: Self.bounds))
        }
        let results = ResultsBox()
        let done = DispatchGroup()
        for node in nodes {
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
        XCTAssertEqual(results.get("east"), "rounds 1")
        XCTAssertEqual(results.get("west"), "rounds 1")
        let fit = try XCTUnwrap(try CheckpointFile.load(coordinator.config.outDir + "/global.ckpt").metadata.preprocessing)
        // Without noise: the equal-weight average of the two sites' vectors.
        let average = zip(vectors[0], vectors[1]).map { ($0 + $1) / 2 }
        let expected = try FittedPreprocessing.fit(schema: s, statistics: try PrivateStatistics.statistics(average: average, schema: s, bounds: Self.bounds, rows: fit.rows))
        for node in nodes { XCTAssertEqual(node.preprocessing, fit, node.config.name) }
        return (fit, expected, records, lines.all, privacy.noiseMultiplier!)
    }

    private func check(mode: String) throws {
        let (fit, expected, records, log, sigma) = try federate(mode: mode)
        XCTAssertEqual(fit.noiseMultiplier, 0.001)
        // Noise σ·S = 0.001·√8 on the sum of two sites' fractions: about 0.0014 on each averaged
        // entry, so a centre moves by about 0.002 of its bounds' width (sd); allow 7 sd.
        for (f, e) in zip(fit.columns, expected.columns) where e.categoryCounts == nil {
            let width = Float(Self.bounds[f.name]![1] - Self.bounds[f.name]![0])
            XCTAssertEqual(f.center, e.center, accuracy: 0.015 * width, f.name)
            // The variance moves by about 0.0022 in z² units (≈ 5 % of these columns' z-variance,
            // so ≈ 2.4 % of the scale, one sd): allow 15 %.
            XCTAssertEqual(f.scale, e.scale, accuracy: 0.15 * e.scale, f.name)
        }
        // Equal weights: centre of `a` near (−20 + 40) / 2 = 10, not the pooled (90·−20 + 60·40)/150 = 4.
        XCTAssertEqual(Double(fit.columns[0].center), 10, accuracy: 1.5)
        XCTAssertTrue(log.contains { $0.contains("statistics round: released under \(mode) DP with σ = 0.001") }, "\(log)")
        // The journal's ε of round 1 composes the statistics release with the round.
        let record = try XCTUnwrap(records.first)
        let epsilon = try XCTUnwrap(record.epsilon)
        let roundsOnly = RDPAccountant.epsilon(sampleRate: record.sampleRate ?? 1, noiseMultiplier: sigma, steps: 1, delta: record.delta ?? 1e-5)
        XCTAssertGreaterThan(epsilon, roundsOnly * 1.5, "ε \(epsilon) includes the statistics release (rounds alone: \(roundsOnly))")
        var both = RDPAccountant()
        both.step(noiseMultiplier: 0.001, sampleRate: 1)
        both.step(noiseMultiplier: sigma, sampleRate: record.sampleRate ?? 1)
        XCTAssertEqual(epsilon, both.epsilon(delta: record.delta ?? 1e-5), accuracy: 1e-9 * epsilon)
    }

    func testCentralNoiseReleaseIsAccountedWithTheRounds() throws { try check(mode: "central") }

    func testDistributedNoiseReleaseIsAccountedWithTheRounds() throws { try check(mode: "distributed") }
}
