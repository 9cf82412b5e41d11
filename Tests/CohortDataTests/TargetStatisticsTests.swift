import CohortData
import CohortTensor
import Foundation
import XCTest

/// A regression label's target in the federated statistics: merged site statistics give the
/// pooled targets' centre and scale, the additive vector carries them, and statistics without
/// the target are refused for a regression schema.
final class TargetStatisticsTests: XCTestCase {
    private func schema() throws -> DatasetSchema {
        try DatasetSchema.decode(Data("""
        {"version": 1, "label": {"column": "price", "task": "regression"},
         "features": [{"name": "x", "type": "numeric", "missing": "mean"},
                      {"name": "k", "type": "categorical", "categories": ["a", "b"]}]}
        """.utf8), source: "s.json")
    }

    func testMergedTargetsFitLikeThePooledTargets() throws {
        let s = try schema()
        let rowsA = Tensor(shape: [3, 2], data: [1, 0, 2, 1, .nan, 1]), ya = Tensor(shape: [2, 1], data: [300, 320])
        let rowsB = Tensor(shape: [2, 2], data: [5, 0, 6, 0]), yb = Tensor(shape: [2, 1], data: [700, 760])
        let a = try SiteStatistics.compute(schema: s, rows: rowsA, targets: ya, sketchCapacity: 16)
        let b = try SiteStatistics.compute(schema: s, rows: rowsB, targets: yb, sketchCapacity: 16)
        XCTAssertEqual(a.target?.count, 2)
        XCTAssertEqual(a.target?.missing, 1, "the unlabelled row")
        XCTAssertNoThrow(try a.validate(schema: s, sketchCapacity: 16))
        let merged = SiteStatistics.merge([a, b], schema: s, sketchCapacity: 16)
        let fit = try FittedPreprocessing.fit(schema: s, statistics: merged)
        let pooled = try FittedPreprocessing.fit(schema: s, rows: Tensor(shape: [5, 2], data: rowsA.data + rowsB.data),
                                                 targets: Tensor(shape: [4, 1], data: ya.data + yb.data))
        let t = try XCTUnwrap(fit.target), p = try XCTUnwrap(pooled.target)
        XCTAssertEqual(t.count, 4)
        XCTAssertEqual(t.center, p.center, accuracy: 1e-3)
        XCTAssertEqual(t.scale, p.scale, accuracy: 1e-3)
        XCTAssertEqual(t.median, p.median)
        XCTAssertEqual(Double(t.center), 520, accuracy: 1e-3)
        XCTAssertNoThrow(try fit.validate(source: "fit"))

        // The additive vector (secure aggregation) carries Σy and Σy²; no median without a sketch.
        let v = zip(a.additiveVector(schema: s), b.additiveVector(schema: s)).map { $0 + $1 }
        XCTAssertEqual(v.count, SiteStatistics.additiveLength(schema: s))
        let summed = try FittedPreprocessing.fit(schema: s, statistics: try SiteStatistics.fromAdditive(v, schema: s))
        XCTAssertEqual(summed.target?.center ?? 0, p.center, accuracy: 1e-3)
        XCTAssertEqual(summed.target?.scale ?? 0, p.scale, accuracy: 1e-3)
        XCTAssertNil(summed.target?.median)

        // Without the target a regression site's statistics are refused; no labelled row anywhere cannot be fitted.
        var missing = a
        missing.target = nil
        XCTAssertThrowsError(try missing.validate(schema: s, sketchCapacity: 16)) {
            guard case .wrongFields(let f, _)? = $0 as? StatisticsError else { return XCTFail("\($0)") }
            XCTAssertEqual(f, "price")
        }
        let unlabelled = try SiteStatistics.compute(schema: s, rows: rowsB, targets: nil, sketchCapacity: 16)
        XCTAssertThrowsError(try FittedPreprocessing.fit(schema: s, statistics: unlabelled)) {
            XCTAssertEqual($0 as? StatisticsError, .noValues(feature: "price", policy: "regression target", rows: 2))
        }
    }

    /// Under privacy the target is one more bounded numeric column: the norm bound holds and the
    /// noise-free statistics give the targets' mean back.
    func testPrivateVectorCarriesTheTarget() throws {
        let s = try schema()
        let bounds: [String: [Double]] = ["x": [0, 10], "price": [0, 1000]]
        XCTAssertEqual(PrivateStatistics.unbounded(schema: s, bounds: ["x": [0, 10]]), ["price"])
        XCTAssertEqual(PrivateStatistics.sensitivity(schema: s), 8.0.squareRoot())
        let rows = Tensor(shape: [3, 2], data: [1, 0, 2, 1, 3, 1]), y = Tensor(shape: [2, 1], data: [300, 5000])
        let v = try PrivateStatistics.vector(schema: s, rows: rows, targets: y, bounds: bounds)
        XCTAssertEqual(v.count, PrivateStatistics.length(schema: s))
        XCTAssertLessThanOrEqual(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), PrivateStatistics.sensitivity(schema: s))
        let back = try PrivateStatistics.statistics(average: v, schema: s, bounds: bounds, rows: 3)
        let t = try XCTUnwrap(back.target)
        XCTAssertEqual(t.count, 2)
        // 5000 is clipped to the bound 1000: mean (300 + 1000) / 2.
        XCTAssertEqual(t.sum! / Double(t.count), 650, accuracy: 1e-9)
    }
}
