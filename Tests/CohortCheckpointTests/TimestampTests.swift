import XCTest
import Foundation
@testable import CohortCheckpoint

/// `Timestamp.iso8601` writes what Foundation's `ISO8601DateFormatter` writes by default.
final class TimestampTests: XCTestCase {
    func testMatchesFoundationsFormatterAcrossDatesAndFractions() {
        let formatter = ISO8601DateFormatter()
        for seconds in [0.0, 59.999, 951_782_400.5, 1_798_675_199.25, 1_796_083_200, 4_102_444_799.9] {
            let date = Date(timeIntervalSince1970: seconds)
            XCTAssertEqual(Timestamp.iso8601(date), formatter.string(from: date), "\(seconds)")
        }
    }
}
