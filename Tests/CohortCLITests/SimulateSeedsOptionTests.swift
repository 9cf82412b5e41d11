@testable import CohortCLI
import XCTest

/// `cohort simulate --byzantine K --seeds N` / `--seed-list`.
final class SimulateSeedsOptionTests: XCTestCase {
    private func seeds(_ options: [String: [String]], first: UInt64 = 7) throws -> [UInt64] {
        let command = ParsedCommand(toolName: "cohort", command: SimulateCommand.spec, givenOptions: options, givenPositionals: [:])
        return try SimulateCommand.seeds(command, first: first)
    }

    func testSeedsCountFromTheFirstSeedAndSeedListIsTakenAsGiven() throws {
        XCTAssertEqual(try seeds([:]), [])
        XCTAssertEqual(try seeds(["seeds": ["3"]]), [7, 8, 9])
        XCTAssertEqual(try seeds(["seed-list": ["4, 1,9"]]), [4, 1, 9])
    }

    func testBadSeedOptionsAreUsageErrors() {
        for options: [String: [String]] in [["seeds": ["0"]], ["seeds": ["101"]], ["seed-list": ["1,x"]], ["seed-list": ["-1"]],
                                            ["seed-list": [","]], ["seeds": ["2"], "seed-list": ["1,2"]]] {
            XCTAssertThrowsError(try seeds(options), "\(options)") { XCTAssertTrue($0 is UsageError, "\(options): \($0)") }
        }
        XCTAssertThrowsError(try seeds(["seeds": ["2"]], first: UInt64.max)) { XCTAssertTrue($0 is UsageError, "\($0)") }
    }
}
