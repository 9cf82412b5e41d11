import CohortSimulation
import Foundation
import XCTest

final class MetricsJSONTests: XCTestCase {
    func testRoundTripIsEqualIncludingNaN() throws {
        var results = SampleResults.make(rounds: 5)
        results.seed = UInt64.max - 7  // above 2^53: must survive exactly
        results.arms[2].perSite[1].accuracy = .nan
        results.arms[2].rounds[3].perSiteAccuracy[SampleResults.siteNames[0]] = .nan
        results.arms[3].wallSeconds = .nan
        results.arms[4].failed = "node riverside: connection reset \"mid-round\""
        results.sites[0].scanner["gain"] = .nan
        results.shift?.points[0].x = .nan

        let data = try MetricsJSON.encode(results)
        let decoded = try MetricsJSON.decode(data)
        XCTAssertTrue(decoded == results, "metrics.json round trip changed the results")
        XCTAssertTrue(decoded.arms[2].perSite[1].accuracy.isNaN)
        XCTAssertTrue(decoded.arms[2].rounds[3].perSiteAccuracy[SampleResults.siteNames[0]]!.isNaN)
        XCTAssertEqual(decoded.arms[4].failed, results.arms[4].failed)
        XCTAssertEqual(decoded.seed, UInt64.max - 7)

        // Infinity has no JSON form either: it is written as null and reads back as NaN.
        var infinite = results
        infinite.arms[3].wallSeconds = .infinity
        XCTAssertTrue(try MetricsJSON.decode(try MetricsJSON.encode(infinite)).arms[3].wallSeconds.isNaN)

        // Equality is not vacuous: a changed number is noticed.
        var changed = decoded
        changed.arms[0].perSite[0].accuracy += 1e-12
        XCTAssertFalse(changed == results)
    }

    func testNonFiniteNumbersAreNullAndKeysSorted() throws {
        var results = SampleResults.make(rounds: 2)
        results.arms[0].perSite[0].accuracy = .nan
        let text = String(decoding: try MetricsJSON.encode(results), as: UTF8.self)
        XCTAssertTrue(text.contains("\"accuracy\" : null"), "NaN accuracy should be null")
        XCTAssertFalse(text.contains("NaN"))
        // Plain JSON: Foundation's generic parser accepts it.
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        XCTAssertEqual(object?["kind"] as? String, "imaging")
        let arms = text.range(of: "\"arms\"")!.lowerBound
        let kind = text.range(of: "\"kind\"")!.lowerBound
        XCTAssertLessThan(arms, kind, "keys are sorted")
    }

    func testNoShiftViewRoundTrips() throws {
        var results = SampleResults.make(rounds: 1)
        results.shift = nil
        XCTAssertTrue(try MetricsJSON.decode(try MetricsJSON.encode(results)) == results)
    }

    func testComputedHelpers() {
        let arm = ArmResult(name: "a", description: "", federated: true,
                            perSite: [SiteScore(site: "x", accuracy: 0.8, balancedAccuracy: 0.7, samples: 10),
                                      SiteScore(site: "y", accuracy: .nan, balancedAccuracy: .nan, samples: 10),
                                      SiteScore(site: "z", accuracy: 0.6, balancedAccuracy: 0.5, samples: 90)],
                            rounds: [RoundRecord(round: 1, perSiteAccuracy: [:], bytesUp: 100, bytesDown: 300,
                                                 seconds: 1, participants: 3),
                                     RoundRecord(round: 2, perSiteAccuracy: [:], bytesUp: 100, bytesDown: 300,
                                                 seconds: 1, participants: 3)],
                            bytesUp: 200, bytesDown: 600, wallSeconds: 2)
        XCTAssertEqual(arm.meanAccuracy, 0.7, accuracy: 1e-12, "unweighted over finite sites")
        XCTAssertEqual(arm.meanBalancedAccuracy, 0.6, accuracy: 1e-12)
        XCTAssertEqual(arm.bytesPerRound, 400)
        let none = ArmResult(name: "b", description: "", federated: false, perSite: [], rounds: [],
                             bytesUp: 0, bytesDown: 50, wallSeconds: 1)
        XCTAssertTrue(none.meanAccuracy.isNaN)
        XCTAssertEqual(none.bytesPerRound, 50, "no rounds counts as one")
        let results = SampleResults.make(rounds: 2)
        XCTAssertEqual(results.arm(named: "fedprox")?.name, "fedprox")
        XCTAssertNil(results.arm(named: "nope"))
    }
}
