import CohortSimulation
import Foundation
import XCTest

/// The privacy figures of an arm survive metrics.json, and `PrivacyComparison` lines the private
/// arms up against fedavg.
final class PrivacyComparisonTests: XCTestCase {
    func testPrivacyFiguresRoundTripAndAreComparedWithFedAvg() throws {
        var results = SampleResults.make(rounds: 3)
        let fedavg = results.arms.first { $0.name == "fedavg" }!
        var dp = fedavg
        dp.name = "fedavg-dp"
        dp.perSite = dp.perSite.map { var s = $0; s.accuracy -= 0.1; return s }
        dp.privacy = ArmPrivacy(epsilon: 9.5, delta: 1e-5, noiseMultiplier: 1.2, clipNorm: 0.3, mode: "central")
        results.arms.append(dp)
        let decoded = try MetricsJSON.decode(try MetricsJSON.encode(results))
        XCTAssertTrue(decoded == results)
        XCTAssertEqual(decoded.arms.last?.privacy, dp.privacy)
        XCTAssertNil(decoded.arms.first?.privacy)
        var changed = decoded
        changed.arms[changed.arms.count - 1].privacy?.epsilon = 9.6
        XCTAssertFalse(changed == results, "equality sees the guarantee")

        let comparison = PrivacyComparison(decoded)
        XCTAssertEqual(comparison.arms.map(\.arm), ["source-only", "fedavg", "fedavg-dp"], "named arms that ran, in order")
        let row = comparison.arms[2]
        XCTAssertEqual(row.accuracyCostVsFedAvg ?? .nan, 0.1, accuracy: 1e-9)
        XCTAssertEqual(row.privacy?.epsilon, 9.5)
        XCTAssertEqual(comparison.arms[1].accuracyCostVsFedAvg, 0)
        XCTAssertEqual(comparison.rounds, 3)
        // metrics.json written before arms carried the field still reads (the field is absent).
        var text = String(decoding: try MetricsJSON.encode(SampleResults.make(rounds: 1)), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"privacy\" : null,", with: "")
        XCTAssertFalse(text.contains("\"privacy\""))
        XCTAssertNoThrow(try MetricsJSON.decode(Data(text.utf8)))
    }
}
