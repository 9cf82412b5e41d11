import XCTest
import Foundation

/// `cohort bench aggregate` at toy sizes: the coordinator's aggregation path and the memory
/// run (a real coordinator, synthetic nodes in a child process) work end to end and report
/// figures consistent with what they did. Speed is not asserted here.
final class BenchAggregateTests: XCTestCase {
    private func run(_ args: [String]) throws -> (status: Int32, json: [String: Any]?, err: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("report.json")
        let p = try ProcessHarness.launch(args + ["--out", out.path], stderr: dir.appendingPathComponent("err.log"))
        let status = ProcessHarness.wait(p, seconds: 120) ?? -1
        let err = (try? String(contentsOf: dir.appendingPathComponent("err.log"), encoding: .utf8)) ?? ""
        let json = (try? Data(contentsOf: out)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        return (status, json, err)
    }

    func testThroughputRunFoldsEveryUpdateCorrectly() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let r = try run(["bench", "aggregate", "--updates", "4", "--params", "30000", "--repeats", "1"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.json?["inputBytesPerAggregation"] as? Int, 4 * 30_000 * 4)
        XCTAssertLessThan(r.json?["maxAbsErrorVsDouble"] as? Double ?? 1, 1e-6, r.err)
    }

    func testMemoryRunCarriesEveryNodeThroughARealRound() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let r = try run(["bench", "aggregate", "--memory", "--updates", "5", "--params", "1000000"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.json?["accepted"] as? Int, 5, r.err)
        let parameters = r.json?["parameters"] as? Int ?? 0
        XCTAssertEqual(r.json?["modelBytes"] as? Int, 4 * parameters)
        XCTAssertGreaterThan(parameters, 900_000)
        // The global model and the running sum (large blocks, mapped afresh) are resident at the peak.
        XCTAssertGreaterThan(r.json?["peakResidentBytes"] as? Int ?? 0, (r.json?["baselineResidentBytes"] as? Int ?? .max) + 8 * parameters)
    }
}
