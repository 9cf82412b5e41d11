import CohortSimulation
import Foundation
import XCTest

/// The adaptation parts of the results model: per-site metrics, the proxy A-distance, and the
/// findings computed from them.
final class AdaptationResultsTests: XCTestCase {
    private func arm(_ name: String, _ accuracies: [Double], siteMetrics: [String: [String: Double]]? = nil) -> ArmResult {
        ArmResult(name: name, description: name, federated: false,
                  perSite: accuracies.enumerated().map { SiteScore(site: "h\($0.offset + 1)", accuracy: $0.element, balancedAccuracy: $0.element, samples: 100) },
                  rounds: [], bytesUp: 0, bytesDown: 0, wallSeconds: 1, siteMetrics: siteMetrics)
    }

    private let sites = (1...3).map { SiteInfo(name: "h\($0)", trainLabelled: $0 == 3 ? 10 : 100, trainUnlabelled: $0 == 3 ? 190 : 0, test: 100,
                                               prevalence: [0.5, 0.5], scanner: [:]) }

    func testSiteMetricsAndProxyADistanceRoundTripAndOldFilesStillDecode() throws {
        var results = SampleResults.make(rounds: 2)
        results.arms[0].siteMetrics = ["north-general": ["guard_winner": 1, "guard_margin": .nan], "riverside": [:]]
        results.shift?.perSite[0].proxyADistance = 1.25
        let data = try MetricsJSON.encode(results)
        let decoded = try MetricsJSON.decode(data)
        XCTAssertTrue(decoded == results)
        XCTAssertTrue(decoded.arms[0].siteMetrics?["north-general"]?["guard_margin"]?.isNaN ?? false)
        XCTAssertNil(decoded.arms[1].siteMetrics)
        var changed = decoded
        changed.arms[0].siteMetrics?["riverside"] = ["x": 1]
        XCTAssertFalse(changed == results)
        // A metrics.json written before these fields existed.
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var shift = try XCTUnwrap(object["shift"] as? [String: Any])
        shift["perSite"] = (shift["perSite"] as! [[String: Any]]).map { $0.filter { $0.key != "proxyADistance" } }
        object["shift"] = shift
        object["arms"] = (object["arms"] as! [[String: Any]]).map { $0.filter { $0.key != "siteMetrics" } }
        let old = try MetricsJSON.decode(try JSONSerialization.data(withJSONObject: object))
        XCTAssertTrue(old.shift?.perSite.allSatisfy { $0.proxyADistance.isNaN } ?? false)
        XCTAssertNil(old.arms[0].siteMetrics)
        XCTAssertTrue(ReportWriter.html(results).contains("Proxy A-distance"))
    }

    func testFindingsSayWhetherEachMethodRaisesAccuracyAtEveryShiftedHospital() throws {
        let source = arm("source-only", [0.86, 0.59, 0.33])
        let notes = AdaptationFindings.notes([source, arm("source+adabn", [0.64, 0.61, 0.75]), arm("source+shot", [0.80, 0.55, 0.70])],
                                             sites: sites, sourceAccuracy: 0.82,
                                             shift: ShiftView(points: [], explainedVariance: [], perSite: [SiteShift(site: "h2", mmd: 0.5, meanFeatureNorm: 1, proxyADistance: 1.9)]))
        XCTAssertEqual(notes.count, 3, "\(notes)")
        XCTAssertTrue(notes[0].contains("h2 MMD 0.5, proxy A-distance 1.90") && notes[0].contains("scanner-shifted (source-only ≥ 5 points below the source domain): h2, h3"), notes[0])
        XCTAssertTrue(notes[1].hasPrefix("AdaBN raises source-only accuracy at every scanner-shifted hospital without labels: HOLDS"), notes[1])
        XCTAssertTrue(notes[1].contains("h2 59.0% → 61.0% (+2.0)") && notes[1].contains("h1, not shifted: 86.0% → 64.0%"), notes[1])
        XCTAssertTrue(notes[2].contains("SHOT raises") && notes[2].contains("DOES NOT HOLD") && notes[2].contains("h2 59.0% → 55.0% (-4.0)"), notes[2])
    }

    func testFindingsOnTheFederatedStepAndTheGuard() throws {
        let ok: [String: Double] = ["guard_checks": 4, "guard_checks_below_best": 0, "guard_kept_adapted": 3, "guard_kept_scratch": 1,
                                    "guard_winner": 1, "guard_gain_over_incoming": 0.05, "guard_incoming_val": 0.7, "guard_scratch_val": 0.5]
        var guarded = arm("fedbn+adabn+guard", [0.8, 0.7, 0.6], siteMetrics: ["h1": ok, "h2": ok, "h3": ok])
        let plain = arm("fedbn", [0.8, 0.7, 0.5]), step = arm("fedbn+adabn", [0.8, 0.7, 0.55], siteMetrics: ["h3": ["received_test_accuracy": 0.5]])
        var notes = AdaptationFindings.notes([plain, step, guarded], sites: sites, sourceAccuracy: nil, shift: nil)
        XCTAssertEqual(notes.count, 2, "\(notes)")
        XCTAssertTrue(notes[0].hasPrefix("fedbn+adabn beats fedbn at h3, the hospital with the fewest labels (10 of 200 training scans labelled): HOLDS — 55.0% vs 50.0% (the received model before its final AdaBN step: 50.0%)"), notes[0])
        XCTAssertTrue(notes[1].contains(": HOLDS — 12 checks, 0 below; kept 0 incoming, 9 adapted, 3 scratch"), notes[1])
        XCTAssertTrue(notes[1].contains("h1 kept adapted (+5.0 points over incoming; incoming 70.0%, scratch 50.0%)"), notes[1])
        XCTAssertTrue(notes[1].contains("70.0% mean vs 68.3% for fedbn+adabn"), notes[1])
        guarded.siteMetrics?["h2"]?["guard_checks_below_best"] = 1
        notes = AdaptationFindings.notes([plain, step, guarded], sites: sites, sourceAccuracy: nil, shift: nil)
        XCTAssertTrue(notes[1].contains("DOES NOT HOLD — 12 checks, 1 below"), notes[1])
    }
}
