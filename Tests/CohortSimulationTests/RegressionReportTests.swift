@testable import CohortSimulation
import Foundation
import XCTest

/// A regression run's report: MAE, RMSE and R² per arm instead of accuracy, in the terminal
/// table, the HTML summary and metrics.json.
final class RegressionReportTests: XCTestCase {
    private func results() -> SimulationResults {
        var results = SampleResults.make(rounds: 3)
        results.arms = results.arms.enumerated().map { k, arm in
            var arm = arm
            arm.perSite = arm.perSite.enumerated().map { i, s in
                SiteScore(site: s.site, mae: 2 + 0.5 * Double(k) + 0.1 * Double(i), rmse: 3 + 0.5 * Double(k), r2: 0.9 - 0.05 * Double(k) - 0.01 * Double(i), samples: 150)
            }
            return arm
        }
        return results
    }

    func testTablesShowErrorsAndR2InsteadOfAccuracy() throws {
        let r = results()
        XCTAssertTrue(r.isRegression)
        let first = r.arms[0]
        XCTAssertEqual(first.meanMAE, (2.0 + 2.1 + 2.2 + 2.3) / 4, accuracy: 1e-12)
        XCTAssertEqual(first.meanR2, (0.9 + 0.89 + 0.88 + 0.87) / 4, accuracy: 1e-12)
        XCTAssertTrue(first.meanAccuracy.isNaN)
        let text = TerminalTable.render(r)
        let header = text.split(separator: "\n")[0]
        XCTAssertTrue(header.contains("MAE") && header.contains("RMSE") && header.contains("north-general R²"), String(header))
        XCTAssertFalse(header.contains("mean"), String(header))
        let row = text.split(separator: "\n")[2]
        XCTAssertTrue(row.contains("2.15") && row.contains("0.885"), String(row))   // mean MAE, mean R² of the first arm
        XCTAssertFalse(text.contains("%"), text)
        let html = SummaryTable.html(r)
        XCTAssertTrue(html.contains("R² (mean)") && html.contains("MAE (mean)") && html.contains("RMSE (mean)"), html)
        XCTAssertFalse(html.contains("Balanced acc."), html)
        // A classification run keeps its accuracy table.
        XCTAssertTrue(SummaryTable.html(SampleResults.make(rounds: 3)).contains("Balanced acc."))
    }

    func testMetricsJSONRoundTripsTheRegressionScores() throws {
        let r = results()
        let decoded = try JSONDecoder().decode(SimulationResults.self, from: try JSONEncoder().encode(r))
        XCTAssertEqual(decoded.arms[1].perSite[2].mae, r.arms[1].perSite[2].mae)
        XCTAssertEqual(decoded.arms[1].perSite[2].r2, r.arms[1].perSite[2].r2)
        XCTAssertTrue(decoded.isRegression)
        // A classification score has no regression keys and decodes without them.
        let plain = try JSONEncoder().encode(SiteScore(site: "a", accuracy: 0.5, balancedAccuracy: 0.5, samples: 3))
        XCTAssertFalse(String(decoding: plain, as: UTF8.self).contains("r2"))
        XCTAssertNil(try JSONDecoder().decode(SiteScore.self, from: plain).r2)
    }
}
