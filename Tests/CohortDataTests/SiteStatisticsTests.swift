import CohortData
import CohortNN
import CohortTensor
import XCTest

/// The federated statistics: merged site statistics fit what the pooled rows fit; received
/// statistics with wrong sizes, NaN or absurd counts are refused with typed errors.
final class SiteStatisticsTests: XCTestCase {
    static let schemaJSON = """
    {"version": 1, "label": {"column": "y", "classes": ["no", "yes"]},
     "features": [
       {"name": "age", "type": "numeric", "missing": "median"},
       {"name": "dose", "type": "numeric", "missing": "mean", "indicator": true},
       {"name": "grade", "type": "numeric", "missing": "most-frequent", "standardize": false},
       {"name": "site", "type": "categorical", "categories": ["A", "B", "C"], "missing": "most-frequent"}]}
    """

    private func schema() throws -> DatasetSchema { try DatasetSchema.decode(Data(Self.schemaJSON.utf8), source: "s.json") }

    /// A site's CSV with `n` rows, values drawn around `shift`, some cells missing.
    private func csv(_ n: Int, shift: Float, seed: UInt64) -> String {
        var rng = SeededRandom(seed: seed)
        var text = "y,age,dose,grade,site\n"
        for i in 0..<n {
            let age = (shift + 10 * rng.normal()).rounded()
            let dose = i % 7 == 3 ? "NA" : String(format: "%.3f", Double(shift / 10 + rng.normal()))
            let grade = i % 11 == 5 ? "" : "\(Int(rng.uniform() * 4))"
            let site = i % 13 == 0 ? "?" : ["A", "B", "C"][Int(rng.uniform() * 2.99 + (shift > 50 ? 0.5 : 0)) % 3]
            text += "\(i % 2 == 0 ? "no" : "yes"),\(age),\(dose),\(grade),\(site)\n"
        }
        return text
    }

    private func raw(_ text: String, _ s: DatasetSchema) throws -> Tensor {
        try SchemaReader.read(bytes: Array(text.utf8), path: "site.csv", schema: s).allInputs
    }

    func testMergedStatisticsFitWhatThePooledRowsFit() throws {
        let s = try schema()
        let a = csv(120, shift: 30, seed: 1), b = csv(75, shift: 70, seed: 2)
        let ra = try raw(a, s), rb = try raw(b, s)
        let sa = try SiteStatistics.compute(schema: s, rows: ra, sketchCapacity: 256)
        let sb = try SiteStatistics.compute(schema: s, rows: rb, sketchCapacity: 256)
        try sa.validate(schema: s, sketchCapacity: 256)
        try sb.validate(schema: s, sketchCapacity: 256)
        let merged = SiteStatistics.merge([sa, sb], schema: s, sketchCapacity: 256)
        let federated = try FittedPreprocessing.fit(schema: s, statistics: merged)
        let pooledRows = try raw(a + b.split(separator: "\n", omittingEmptySubsequences: true).dropFirst().map { $0 + "\n" }.joined(), s)
        let pooled = try FittedPreprocessing.fit(schema: s, rows: pooledRows)
        XCTAssertEqual(federated.rows, 195)
        XCTAssertEqual(pooled.rows, 195)
        for (f, p) in zip(federated.columns, pooled.columns) {
            XCTAssertEqual(f.count, p.count, f.name)
            XCTAssertEqual(f.center, p.center, accuracy: 1e-4 * max(1, abs(p.center)), f.name)
            XCTAssertEqual(f.scale, p.scale, accuracy: 1e-4 * p.scale, f.name)
            XCTAssertEqual(f.fill ?? .nan, p.fill ?? .nan, accuracy: 1e-5 * max(1, abs(p.fill ?? 1)), f.name)
            if let median = p.median { XCTAssertEqual(try XCTUnwrap(f.median), median, accuracy: 1e-9, f.name) }   // exact: fewer than 256 distinct values per site
            XCTAssertEqual(f.categoryCounts, p.categoryCounts, f.name)
        }
        // The two sites differ, so the pooled centre is neither site's.
        let own = try FittedPreprocessing.fit(schema: s, rows: ra)
        XCTAssertGreaterThan(abs(own.columns[0].center - federated.columns[0].center), 5)
        // Encoding with the merged fit equals encoding with the pooled fit.
        let ea = try federated.encode(ra), pa = try pooled.encode(ra)
        for (x, y) in zip(ea.data, pa.data) { XCTAssertEqual(x, y, accuracy: 1e-3) }
    }

    func testPerSiteScalingUsesTheSitesOwnMeanAndDeviation() throws {
        let s = try schema()
        let ra = try raw(csv(120, shift: 30, seed: 1), s), rb = try raw(csv(75, shift: 70, seed: 2), s)
        let sa = try SiteStatistics.compute(schema: s, rows: ra, sketchCapacity: 256)
        let sb = try SiteStatistics.compute(schema: s, rows: rb, sketchCapacity: 256)
        let global = try FittedPreprocessing.fit(schema: s, statistics: SiteStatistics.merge([sa, sb], schema: s, sketchCapacity: 256))
        let perSite = global.scaled(bySite: sa)
        let own = try FittedPreprocessing.fit(schema: s, rows: ra)
        XCTAssertEqual(perSite.columns[0].center, own.columns[0].center, accuracy: 1e-3)
        XCTAssertEqual(perSite.columns[0].scale, own.columns[0].scale, accuracy: 1e-3)
        XCTAssertEqual(perSite.columns[0].fill, global.columns[0].fill, "fills stay federated")
        XCTAssertEqual(perSite.columns[2].center, 0, "grade is not standardised")
        XCTAssertEqual(perSite.columns[2].scale, 1)
    }

    func testSketchIsExactWhenSmallAndBoundedWhenLarge() {
        let exact = QuantileSketch(sorted: [1, 2, 2, 3, 10], capacity: 16)
        XCTAssertEqual(exact.values, [1, 2, 3, 10])
        XCTAssertEqual(exact.weights, [1, 2, 1, 1])
        XCTAssertEqual(exact.median, 2)
        XCTAssertEqual(exact.mode, 2)
        XCTAssertEqual(QuantileSketch(sorted: [1, 2, 3, 10], capacity: 16).median, 2.5)
        let values = (0..<10_000).map { Float($0) }
        let big = QuantileSketch(sorted: values, capacity: 100)
        XCTAssertLessThanOrEqual(big.values.count, 100)
        XCTAssertEqual(big.count, 10_000)
        XCTAssertNil(big.problem(count: 10_000, capacity: 100))
        XCTAssertEqual(big.median!, 4999.5, accuracy: 100, "rank error at most count / capacity")
        let merged = QuantileSketch.merge([QuantileSketch(sorted: Array(values[0..<3000]), capacity: 100),
                                           QuantileSketch(sorted: Array(values[3000...]), capacity: 100)], capacity: 100)
        XCTAssertEqual(merged.count, 10_000)
        XCTAssertLessThanOrEqual(merged.values.count, 100)
        XCTAssertEqual(merged.median!, 4999.5, accuracy: 250)
    }

    // MARK: malformed statistics

    private func good() throws -> (SiteStatistics, DatasetSchema) {
        let s = try schema()
        return (try SiteStatistics.compute(schema: s, rows: try raw(csv(40, shift: 30, seed: 3), s), sketchCapacity: 64), s)
    }

    private func refusal(_ stats: SiteStatistics, _ s: DatasetSchema) -> StatisticsError? {
        do { try stats.validate(schema: s, sketchCapacity: 64); return nil } catch { return error }
    }

    func testWrongSizesAreRefused() throws {
        let (stats, s) = try good()
        XCTAssertNil(refusal(stats, s))
        var fewer = stats
        fewer.features.removeLast()
        XCTAssertEqual(refusal(fewer, s), .featureCount(got: 3, expected: 4))
        var categories = stats
        categories.features[3].categoryCounts!.append(0)
        XCTAssertEqual(refusal(categories, s), .categoryCount(feature: "site", got: 4, expected: 3))
        var sketch = stats
        sketch.features[0].sketch = QuantileSketch(values: (0..<65).map(Double.init), weights: [Int](repeating: 1, count: 65))
        guard case .sketch(feature: "age", _)? = refusal(sketch, s) else { return XCTFail("\(String(describing: refusal(sketch, s)))") }
        var renamed = stats
        renamed.features[1].name = "age"
        XCTAssertEqual(refusal(renamed, s), .featureName(index: 1, got: "age", expected: "dose"))
        // Too many bytes for the schema: refused before decoding.
        let huge = [UInt8](repeating: 0x20, count: SiteStatistics.byteBudget(schema: s, sketchCapacity: 64) + 1)
        XCTAssertThrowsError(try SiteStatistics.decode(huge, schema: s, sketchCapacity: 64)) { error in
            guard case .tooLarge? = error as? StatisticsError else { return XCTFail("\(error)") }
        }
    }

    func testNaNAndInfinityAreRefused() throws {
        let (stats, s) = try good()
        var nan = stats
        nan.features[1].sum = .nan
        XCTAssertEqual(refusal(nan, s), .notFinite(feature: "dose", field: "sum"))
        var inf = stats
        inf.features[0].sumSquares = .infinity
        XCTAssertEqual(refusal(inf, s), .notFinite(feature: "age", field: "sumSquares"))
        var sketch = stats
        sketch.features[0].sketch!.values[0] = -.infinity
        guard case .sketch(feature: "age", _)? = refusal(sketch, s) else { return XCTFail() }
        // JSON cannot carry NaN: a message with one is malformed.
        let text = #"{"rows": 1, "features": [{"name": "age", "count": 1, "missing": 0, "sum": NaN}]}"#
        XCTAssertThrowsError(try SiteStatistics.decode(Array(text.utf8), schema: s, sketchCapacity: 64)) { error in
            guard case .malformed? = error as? StatisticsError else { return XCTFail("\(error)") }
        }
    }

    func testAbsurdAndInconsistentCountsAreRefused() throws {
        let (stats, s) = try good()
        var rows = stats
        rows.rows = 1 << 50
        XCTAssertEqual(refusal(rows, s), .absurdCount(feature: "*", field: "rows", value: 1 << 50, limit: SiteStatistics.maxRows))
        var negative = stats
        negative.features[2].missing = -1
        XCTAssertEqual(refusal(negative, s), .absurdCount(feature: "grade", field: "missing", value: -1, limit: 40))
        var count = stats
        count.features[0].count = 1_099_511_627_776
        XCTAssertEqual(refusal(count, s), .absurdCount(feature: "age", field: "count", value: 1_099_511_627_776, limit: 40))
        var sum = stats
        sum.features[1].missing += 1
        guard case .inconsistentCounts(feature: "dose", _)? = refusal(sum, s) else { return XCTFail() }
        var categories = stats
        categories.features[3].categoryCounts![0] += 1
        guard case .inconsistentCounts(feature: "site", _)? = refusal(categories, s) else { return XCTFail() }
        var squares = stats
        squares.features[0].sumSquares = 1   // Σx² far below (Σx)²/n
        guard case .inconsistentCounts(feature: "age", _)? = refusal(squares, s) else { return XCTFail() }
        var weights = stats
        weights.features[0].sketch!.weights[0] += 1
        guard case .sketch(feature: "age", _)? = refusal(weights, s) else { return XCTFail() }
        var kind = stats
        kind.features[3].sum = 3
        guard case .wrongFields(feature: "site", _)? = refusal(kind, s) else { return XCTFail() }
    }

    func testNoValuesAnywhereForAFillIsATypedError() throws {
        let s = try schema()
        var stats = try SiteStatistics.compute(schema: s, rows: try raw(csv(10, shift: 30, seed: 4), s), sketchCapacity: 64)
        stats.features[0].missing += stats.features[0].count
        stats.features[0].count = 0
        stats.features[0].sum = 0
        stats.features[0].sumSquares = 0
        stats.features[0].sketch = QuantileSketch(values: [], weights: [])
        XCTAssertNil(refusal(stats, s))
        XCTAssertThrowsError(try FittedPreprocessing.fit(schema: s, statistics: stats)) { error in
            XCTAssertEqual(error as? StatisticsError, .noValues(feature: "age", policy: "median", rows: 10))
        }
    }
}
