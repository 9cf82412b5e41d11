@testable import CohortSimulation
import Foundation
import XCTest

final class ReportWriterTests: XCTestCase {
    func testWritesAllThreeFilesAndNoTemporaries() throws {
        let root = try TestHelpers.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/runs/sample"
        let results = SampleResults.make(rounds: 4)
        try ReportWriter.write(results, to: directory)
        try ReportWriter.write(results, to: directory)  // overwriting is fine
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        XCTAssertEqual(files, ["metrics.json", "report.html", "rounds.csv"])
        XCTAssertTrue(try MetricsJSON.read(path: directory + "/metrics.json") == results)
        XCTAssertEqual(try String(contentsOfFile: directory + "/rounds.csv", encoding: .utf8), ReportWriter.roundsCSV(results))
        XCTAssertEqual(try String(contentsOfFile: directory + "/report.html", encoding: .utf8), ReportWriter.html(results))
    }

    func testUnwritableDirectoryThrows() throws {
        let root = try TestHelpers.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = FileManager.default.createFile(atPath: root + "/file", contents: Data())
        XCTAssertThrowsError(try ReportWriter.write(SampleResults.make(rounds: 1), to: root + "/file/sub"))
    }

    func testTerminalTableIsAligned() {
        var results = SampleResults.make(rounds: 3)
        results.arms[4].failed = "node st-marys timed out"
        results.arms[0].perSite[0].accuracy = .nan
        let table = ReportWriter.terminalTable(results)
        let lines = table.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2 + results.arms.count)
        XCTAssertTrue(lines[0].hasPrefix("arm"))
        XCTAssertTrue(lines[0].hasSuffix("time"))
        for site in results.sites { XCTAssertTrue(lines[0].contains(site.name)) }
        let complete = lines.enumerated().filter { $0.offset != 1 && !$0.element.contains("FAILED") }.map(\.element)
        XCTAssertEqual(Set(complete.map(\.count)).count, 1, "complete rows have equal width:\n\(table)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("fedbn") && $0.contains("FAILED: node st-marys timed out") })
        let mean = String(format: "%.1f%%", results.arms[2].meanAccuracy * 100)
        XCTAssertTrue(lines.first { $0.hasPrefix("fedavg ") }!.contains(mean))
        XCTAssertTrue(table.allSatisfy(\.isASCII), "plain ASCII for any terminal")
    }

    func testTerminalTableShowsBytesUpAndDownPerRound() {
        var results = SampleResults.make(rounds: 4)
        let i = results.arms.firstIndex { $0.federated }!
        results.arms[i].bytesUp = 4 * 1000
        results.arms[i].bytesDown = 4 * 250_000
        let lines = ReportWriter.terminalTable(results).split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].contains("up/round") && lines[0].contains("down/round"), lines[0])
        let row = lines.first { $0.hasPrefix(results.arms[i].name + " ") }!
        XCTAssertTrue(row.contains(ValueFormat.bytes(1000)) && row.contains(ValueFormat.bytes(250_000)), row)
    }

    /// Writes the sample report (and its terminal table, as terminal.txt) to
    /// `$COHORT_REPORT_SAMPLE_DIR` for `scripts/render-report.sh --sample`; skipped otherwise.
    /// `$COHORT_REPORT_SAMPLE_VARIANT` picks `crowded` or `minimal` instead of the default sample.
    func testWriteSampleReportForRendering() throws {
        guard let directory = ProcessInfo.processInfo.environment["COHORT_REPORT_SAMPLE_DIR"] else {
            throw XCTSkip("set COHORT_REPORT_SAMPLE_DIR to write the sample report")
        }
        let results: SimulationResults
        switch ProcessInfo.processInfo.environment["COHORT_REPORT_SAMPLE_VARIANT"] ?? "" {
        case "crowded": results = SampleResults.crowded()
        case "minimal": results = SampleResults.minimal()
        default: results = SampleResults.make()
        }
        try ReportWriter.write(results, to: directory)
        try ReportWriter.terminalTable(results).write(toFile: directory + "/terminal.txt", atomically: true, encoding: .utf8)
    }
}
