import XCTest
import CohortSimulation
import Foundation

/// `cohort simulate --quick` end to end: real coordinator and node processes, the report files.
final class SimulateProcessTests: XCTestCase {
    func testQuickSimulationWritesAReportWithEveryArmAndFederatedBeatsSourceOnly() throws {
        let binary = CohortBinary.url
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run")
        let log = dir.appendingPathComponent("simulate.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let p = Process()
        p.executableURL = binary
        p.arguments = ["simulate", "--quick", "--out", out.path, "--cache", dir.appendingPathComponent("cache").path]
        p.standardError = try FileHandle(forWritingTo: log)
        p.standardOutput = try FileHandle(forWritingTo: log)
        try p.run()
        let deadline = Date().addingTimeInterval(600)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        if p.isRunning { p.terminate() }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(p.isRunning ? -1 : p.terminationStatus, 0, text)

        let metrics = try Data(contentsOf: out.appendingPathComponent("metrics.json"))
        let results = try JSONDecoder().decode(SimulationResults.self, from: metrics)
        XCTAssertEqual(results.arms.map(\.name), SimulationArm.defaultNames)
        let sites = results.sites.map(\.name)
        XCTAssertEqual(sites.count, 5)
        for arm in results.arms {
            XCTAssertNil(arm.failed, "\(arm.name): \(arm.failed ?? "")")
            XCTAssertEqual(arm.perSite.map(\.site), sites, arm.name)
            for score in arm.perSite { XCTAssertTrue(score.accuracy.isFinite && score.samples > 0, "\(arm.name) \(score.site)") }
            if arm.federated {
                XCTAssertEqual(arm.rounds.count, results.rounds, arm.name)
                XCTAssertGreaterThan(arm.bytesUp, 0, arm.name)
                for r in arm.rounds { XCTAssertEqual(Set(r.perSiteAccuracy.keys), Set(sites), "\(arm.name) round \(r.round)") }
            }
        }
        let source = try XCTUnwrap(results.arm(named: "source-only"))
        let fedavg = try XCTUnwrap(results.arm(named: "fedavg"))
        XCTAssertGreaterThan(fedavg.meanAccuracy, source.meanAccuracy, text)
        let compressed = try XCTUnwrap(results.arm(named: "fedavg-compressed"))
        XCTAssertLessThan(compressed.bytesUp * 20, fedavg.bytesUp, "compressed arm should send far fewer bytes up")

        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("<svg"), "report has no charts")
        for arm in results.arms { XCTAssertTrue(html.contains(arm.name), arm.name) }
        let csv = try String(contentsOf: out.appendingPathComponent("rounds.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(csv.first?.hasPrefix("arm,round,site") ?? false, String(csv.first ?? ""))
        let federatedRows = results.arms.filter(\.federated).reduce(0) { $0 + $1.rounds.count * sites.count }
        XCTAssertEqual(csv.count - 1, federatedRows + results.arms.count * sites.count)
    }
}
