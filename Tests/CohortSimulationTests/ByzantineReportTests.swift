import XCTest
import CohortFederation
@testable import CohortSimulation

/// The Byzantine table and its findings (`cohort simulate --byzantine`).
final class ByzantineReportTests: XCTestCase {
    private func run(_ attack: String, _ accuracy: Double?) -> ByzantineResults.Run {
        ByzantineResults.Run(attack: attack, meanAccuracy: accuracy, screenedRounds: 0, rounds: 5, wallSeconds: 1,
                             failed: accuracy == nil ? "node failed" : nil)
    }

    private func results(fedavg: [Double?], median: [Double?]) -> ByzantineResults {
        let names = ["clean", "scale", "noise"]
        func defence(_ name: String, _ values: [Double?]) -> ByzantineResults.Defence {
            ByzantineResults.Defence(name: name, description: name, runs: zip(names, values).map { run($0, $1) })
        }
        return ByzantineResults(hostile: ["h1"], honest: ["h2", "h3"], kind: "imaging", seed: 1, rounds: 5,
                                defences: [defence("fedavg-no-bounds", [0.6, 0.3, nil]), defence("fedavg", fedavg), defence("median", median)],
                                wallSeconds: 10)
    }

    func testTheTableShowsEachAttackAgainstCleanAndFailures() {
        let text = ByzantineReport.table(results(fedavg: [0.6, 0.59, 0.61], median: [0.5, 0.49, 0.5]))
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0].split(separator: " ", omittingEmptySubsequences: true), ["defence", "clean", "scale", "noise"])
        XCTAssertTrue(lines[2].hasPrefix("fedavg-no-bounds"))
        XCTAssertTrue(lines[2].contains("30.0% (-30.0)"), lines[2])
        XCTAssertTrue(lines[2].hasSuffix("failed"), lines[2])
        XCTAssertTrue(lines[3].contains("59.0% (-1.0)"), lines[3])
    }

    func testTheFloorHoldsOnlyWhenFedAvgAndARobustStrategyStayWithinTwoPoints() {
        let holds = ByzantineReport.findings(results(fedavg: [0.6, 0.59, 0.61], median: [0.5, 0.49, 0.5]))
        XCTAssertTrue(holds.contains { $0.hasPrefix("Floor") && $0.contains("HOLDS") && !$0.contains("DOES NOT") && $0.contains("median") }, "\(holds)")
        XCTAssertTrue(holds.contains("fedavg-no-bounds: more than 2 points below clean (or failed) under scale, noise"), "\(holds)")
        // 2.1 points below clean breaks it; a failed run too.
        let fedavgDrops = ByzantineReport.findings(results(fedavg: [0.6, 0.579, 0.6], median: [0.5, 0.49, 0.5]))
        XCTAssertTrue(fedavgDrops.contains { $0.hasPrefix("Floor") && $0.contains("DOES NOT HOLD") }, "\(fedavgDrops)")
        let medianFails = ByzantineReport.findings(results(fedavg: [0.6, 0.6, 0.6], median: [0.5, nil, 0.5]))
        XCTAssertTrue(medianFails.contains { $0.hasPrefix("Floor") && $0.contains("DOES NOT HOLD") && $0.contains("none") }, "\(medianFails)")
    }

    func testAttackedRunsAboveCleanCountAsWithinTheFloor() {
        let d = ByzantineResults.Defence(name: "x", description: "", runs: [run("clean", 0.4), run("scale", 0.6), run("noise", 0.38)])
        XCTAssertEqual(d.attacksBeyond(points: 2), [])
        XCTAssertEqual(d.attacksBeyond(points: 1.9), ["noise"])
    }

    func testTheDefencesSetTheirPlans() {
        for defence in ByzantineDefence.allCases {
            var plan = TrainingPlan()
            defence.apply(to: &plan)
            XCTAssertEqual(plan.strategy, defence.strategy.rawValue)
            XCTAssertEqual(plan.effectiveScreening == nil, defence != .fedavg, "\(defence)")
            XCTAssertEqual(plan.usesDefaultNormGuard, defence == .fedavgDefaultGuard, "\(defence)")
        }
    }
}
