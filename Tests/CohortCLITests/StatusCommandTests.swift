import XCTest
import Foundation

/// `cohort status --journal DIR` on a journal written by hand (the coordinator's format).
final class StatusCommandTests: XCTestCase {
    private func journalDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    private func record(_ round: Int, accepted: [String], rejected: [String: String], up: Int, epsilon: Double) throws -> String {
        let object: [String: Any] = ["round": round, "participants": accepted + rejected.keys.sorted(), "accepted": accepted, "rejected": rejected,
                                     "globalValidationAccuracy": 0.5 + Double(round) / 10, "nodeMetrics": [String: Any](), "bytesDown": 100 * round,
                                     "bytesUp": up, "seconds": 1.5, "finishedAt": 1_800_000_000.0 + Double(round), "epsilon": epsilon, "delta": 1e-5]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    func testStatusSummarisesTheJournal() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try journalDir()
        let lines = [try record(1, accepted: ["a", "b", "c"], rejected: [:], up: 10, epsilon: 0.4),
                     try record(2, accepted: ["a", "c"], rejected: ["b": "no update within 5.0 s"], up: 7, epsilon: 0.6)]
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("rounds.jsonl"), atomically: true, encoding: .utf8)
        let json = try ProcessHarness.capture(["status", "--journal", dir.path, "--rounds", "4", "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let s = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(s["roundsCompleted"] as? Int, 2)
        XCTAssertEqual(s["roundsPlanned"] as? Int, 4)
        XCTAssertEqual(s["updatesAccepted"] as? Int, 5)
        XCTAssertEqual(s["updatesRejected"] as? Int, 1)
        XCTAssertEqual(s["bytesUp"] as? Int, 17)
        XCTAssertEqual(s["bytesDown"] as? Int, 300)
        XCTAssertEqual(s["epsilon"] as? Double, 0.6)
        XCTAssertEqual(s["lastRoundAccepted"] as? [String], ["a", "c"])
        XCTAssertEqual(s["globalCheckpoint"] as? Bool, false)
        XCTAssertNil(s["finalEvaluation"])
        // The text form, with a final evaluation present.
        try #"{"round":2,"nodes":{"a":{"test_accuracy":0.9},"c":{"test_accuracy":0.7}}}"#
            .write(to: dir.appendingPathComponent("evaluation.json"), atomically: true, encoding: .utf8)
        let text = try ProcessHarness.capture(["status", "--journal", dir.path, "--rounds", "4"])
        XCTAssertEqual(text.status, 0, text.stderr)
        for expected in ["rounds completed: 2 of 4 (50%)", "2 update(s) accepted, 1 rejected, global validation accuracy 0.700",
                         "rejected b: no update within 5.0 s", "all rounds: 5 updates accepted, 1 rejected, 17 bytes up, 300 bytes down",
                         "privacy: ε = 0.6 spent at δ = 1e-05", "final evaluation: 2 site(s), test accuracy min 0.700 mean 0.800 max 0.900"] {
            XCTAssertTrue(text.stdout.contains(expected), "missing '\(expected)' in:\n\(text.stdout)")
        }
    }

    func testEmptyMissingAndCorruptJournals() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try journalDir()
        let empty = try ProcessHarness.capture(["status", "--journal", dir.path])
        XCTAssertEqual(empty.status, 0, empty.stderr)
        XCTAssertTrue(empty.stdout.contains("rounds completed: 0 (no round journaled yet)"), empty.stdout)
        let missing = try ProcessHarness.capture(["status", "--journal", dir.appendingPathComponent("nope").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no such folder"), missing.stderr)
        try "{\"round\": 1}\n".write(to: dir.appendingPathComponent("rounds.jsonl"), atomically: true, encoding: .utf8)
        let corrupt = try ProcessHarness.capture(["status", "--journal", dir.path])
        XCTAssertEqual(corrupt.status, 1)
        XCTAssertTrue(corrupt.stderr.contains("rounds.jsonl:1: not a round record"), corrupt.stderr)
    }
}
