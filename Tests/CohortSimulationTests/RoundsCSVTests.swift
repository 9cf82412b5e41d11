import CohortSimulation
import Foundation
import XCTest

final class RoundsCSVTests: XCTestCase {
    func testRowCountAndValuesParseBack() throws {
        var results = SampleResults.make(rounds: 7, siteNames: ["north", "a,b \"quoted\"", "south"])
        results.arms[2].rounds[4].perSiteAccuracy["north"] = .nan
        let text = ReportWriter.roundsCSV(results)
        let rows = TestHelpers.parseCSV(text)
        XCTAssertEqual(rows.first, ["arm", "round", "site", "accuracy", "bytes_up", "bytes_down", "seconds", "participants"])
        let sites = results.sites.count
        let expected = results.arms.filter(\.federated).reduce(0) { $0 + $1.rounds.count * sites }
            + results.arms.count * sites
        XCTAssertEqual(rows.count - 1, expected)
        XCTAssertTrue(rows.allSatisfy { $0.count == 8 })

        var seen = 0
        for row in rows.dropFirst() {
            let arm = try XCTUnwrap(results.arm(named: row[0]))
            let accuracy = try XCTUnwrap(Double(row[3]))
            if row[1] == "final" {
                let score = try XCTUnwrap(arm.score(site: row[2]))
                XCTAssertEqual(accuracy, score.accuracy)
                XCTAssertEqual(Int(row[4]), arm.bytesUp)
                XCTAssertEqual(Int(row[5]), arm.bytesDown)
                XCTAssertEqual(Double(row[6]), arm.wallSeconds)
                XCTAssertEqual(row[7], "")
            } else {
                let record = try XCTUnwrap(arm.rounds.first { String($0.round) == row[1] })
                let value = try XCTUnwrap(record.perSiteAccuracy[row[2]])
                XCTAssertTrue(value == accuracy || (value.isNaN && accuracy.isNaN), "\(row)")
                XCTAssertEqual(Int(row[4]), record.bytesUp)
                XCTAssertEqual(Int(row[5]), record.bytesDown)
                XCTAssertEqual(Double(row[6]), record.seconds)
                XCTAssertEqual(Int(row[7]), record.participants)
            }
            seen += 1
        }
        XCTAssertEqual(seen, expected)
        XCTAssertTrue(text.contains("fedavg,5,north,NaN,"))
        XCTAssertTrue(text.contains("\"a,b \"\"quoted\"\"\""), "a site name with a comma and quotes is quoted")
    }
}
