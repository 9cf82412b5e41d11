import XCTest
import Foundation

/// `--log-format json`: every stderr line of the coordinator is one JSON object.
final class LogFormatTests: XCTestCase {
    private func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    func testCoordinatorWritesOneJSONObjectPerLine() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProcessHarness.writeSites(in: dir, plan: "{}")
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        XCTAssertEqual(try ProcessHarness.capture(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")]).status, 0)
        // No node comes: the coordinator logs its warning and listening line, then fails waiting.
        let run = try ProcessHarness.capture(["coordinator", "--model", p("init.ckpt"), "--secrets", p("secrets.txt"), "--listen", "127.0.0.1:0",
                                              "--min-nodes", "1", "--wait", "0.3", "--out", p("out"), "--insecure", "--log-format", "json"])
        XCTAssertEqual(run.status, 1, run.stderr)
        let objects = try lines(run.stderr).map { line in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "not a JSON object: \(line)")
        }
        XCTAssertGreaterThanOrEqual(objects.count, 3, run.stderr)
        for o in objects {
            XCTAssertEqual(Set(o.keys), ["time", "level", "command", "message"], "\(o)")
            XCTAssertEqual(o["command"], "coordinator")
            XCTAssertNotNil(ISO8601DateFormatter().date(from: (o["time"] ?? "").replacingOccurrences(of: #"\.\d+"#, with: "", options: .regularExpression)), "\(o)")
        }
        XCTAssertTrue(objects.contains { $0["level"] == "error" && ($0["message"] ?? "").contains("plain TCP") }, run.stderr)
        XCTAssertTrue(objects.contains { $0["level"] == "info" && ($0["message"] ?? "").contains("listening on 127.0.0.1:") }, run.stderr)
        XCTAssertTrue(objects.contains { $0["level"] == "error" && ($0["message"] ?? "").contains("nodes connected within 0.3 s") }, run.stderr)
        // Plain text stays the default.
        let text = try ProcessHarness.capture(["coordinator", "--model", p("init.ckpt"), "--secrets", p("secrets.txt"), "--listen", "127.0.0.1:0",
                                               "--min-nodes", "1", "--wait", "0.3", "--out", p("out2"), "--insecure"])
        XCTAssertEqual(text.status, 1)
        XCTAssertFalse(text.stderr.hasPrefix("{"), text.stderr)
        XCTAssertTrue(text.stderr.contains("coordinator: listening on 127.0.0.1:"), text.stderr)
    }

    func testUnknownLogFormatIsAUsageError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let run = try ProcessHarness.capture(["node", "--name", "a", "--secret-file", "/nonexistent", "--data", "/nonexistent", "--insecure", "--log-format", "xml"])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains("option '--log-format' expects text or json, got 'xml'"), run.stderr)
    }
}
