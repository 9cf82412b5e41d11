import XCTest
@testable import CohortSimulation

/// Pooling the Byzantine experiment over seeds (`cohort simulate --byzantine K --seeds N`).
final class ByzantineSeedPoolingTests: XCTestCase {
    private func run(_ attack: String, _ accuracy: Double?) -> ByzantineResults.Run {
        ByzantineResults.Run(attack: attack, meanAccuracy: accuracy, screenedRounds: 1, rounds: 10, wallSeconds: 2,
                             failed: accuracy == nil ? "node failed" : nil)
    }

    /// Seed 1 is an easy cohort (clean 0.60), seed 2 a hard one (clean 0.40). The attack costs
    /// 1 point on seed 1 and 3 points on seed 2, so the paired differences are −0.01 and −0.03;
    /// pairing seed 1's attacked run with seed 2's clean run (or the other way) would give +0.19
    /// and −0.23 instead.
    private func pooled(median: [Double?] = [0.59, 0.37]) -> ByzantineResults.Defence {
        ByzantineSeedPooling.pool(name: "median", description: "m", seeds: [
            .init(seed: 1, runs: [run("clean", 0.60), run("scale", 0.62), run("labelflip", median[0])]),
            .init(seed: 2, runs: [run("clean", 0.40), run("scale", 0.40), run("labelflip", median[1])]),
        ])
    }

    func testCellsAreMeansOverSeedsAndDifferencesArePairedBySeed() throws {
        let d = pooled()
        XCTAssertEqual(d.runs.map(\.attack), ["clean", "scale", "labelflip"])
        XCTAssertEqual(try XCTUnwrap(d.clean), 0.50, accuracy: 1e-12)
        let flip = d.runs[2]
        XCTAssertEqual(try XCTUnwrap(flip.meanAccuracy), 0.48, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(flip.meanDifference), -0.02, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(flip.differenceMin), -0.03, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(flip.differenceMax), -0.01, accuracy: 1e-12)
        // Differences −0.01, −0.03: sample sd √2 · 0.01, standard error 0.01.
        XCTAssertEqual(try XCTUnwrap(flip.differenceStandardError), 0.01, accuracy: 1e-12)
        XCTAssertEqual(flip.seedRuns?.map(\.seed), [1, 2])
        XCTAssertEqual(flip.seedRuns?.map(\.meanAccuracy), [0.59, 0.37])
        XCTAssertEqual(flip.screenedRounds, 2)
        XCTAssertEqual(flip.rounds, 20)
        let scale = d.runs[1]
        XCTAssertEqual(try XCTUnwrap(scale.differenceMin), 0.0, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(scale.differenceMax), 0.02, accuracy: 1e-12)
        XCTAssertNil(d.runs[0].meanDifference, "the clean run has no difference")
    }

    func testTheFloorJudgesTheMeanPairedDifference() {
        // Mean −2 points: within; the worst seed (−3) does not break it.
        XCTAssertEqual(pooled().attacksBeyond(points: 2), [])
        // Seed 2 drops 4 points: mean −2.5.
        XCTAssertEqual(pooled(median: [0.59, 0.36]).attacksBeyond(points: 2), ["labelflip"])
        // A failed seed fails the cell, with the seed named.
        let failed = pooled(median: [0.59, nil])
        XCTAssertEqual(failed.attacksBeyond(points: 2), ["labelflip"])
        XCTAssertNil(failed.runs[2].meanAccuracy)
        XCTAssertNil(failed.runs[2].meanDifference)
        XCTAssertEqual(failed.runs[2].failed, "seed 2: node failed")
    }

    func testACleanRunThatFailedForOneSeedLeavesTheAttacksUnpaired() {
        let d = ByzantineSeedPooling.pool(name: "x", description: "", seeds: [
            .init(seed: 1, runs: [run("clean", 0.5), run("noise", 0.5)]),
            .init(seed: 2, runs: [run("clean", nil), run("noise", 0.5)]),
        ])
        XCTAssertNil(d.runs[1].meanDifference)
        XCTAssertEqual(d.attacksBeyond(points: 2), ["noise"])
    }

    func testTheReportShowsPooledCellsAndTheFloorOverSeeds() {
        let fedavg = ByzantineSeedPooling.pool(name: "fedavg", description: "f", seeds: [
            .init(seed: 1, runs: [run("clean", 0.60), run("scale", 0.61), run("labelflip", 0.60)]),
            .init(seed: 2, runs: [run("clean", 0.40), run("scale", 0.41), run("labelflip", 0.39)]),
        ])
        let results = ByzantineResults(hostile: ["h1"], honest: ["h2"], kind: "imaging", seed: 1, rounds: 10,
                                       defences: [fedavg, pooled()], wallSeconds: 1, seeds: [1, 2])
        let lines = ByzantineReport.table(results).split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[2].contains("50.0% (40.0..60.0)"), lines[2])
        XCTAssertTrue(lines[3].contains("48.0% (-2.0, -3.0..-1.0)"), lines[3])
        let findings = ByzantineReport.findings(results)
        XCTAssertTrue(findings[0].contains("seeds 1, 2"), findings[0])
        XCTAssertTrue(findings.contains { $0.hasPrefix("Floor") && $0.contains("over 2 seeds") && $0.contains("HOLDS") && !$0.contains("DOES NOT") && $0.contains("median") },
                      "\(findings)")
        let worse = ByzantineResults(hostile: ["h1"], honest: ["h2"], kind: "imaging", seed: 1, rounds: 10,
                                     defences: [fedavg, pooled(median: [0.59, 0.36])], wallSeconds: 1, seeds: [1, 2])
        XCTAssertTrue(ByzantineReport.findings(worse).contains { $0.hasPrefix("Floor") && $0.contains("DOES NOT HOLD") })
    }

    func testTheJSONKeepsTheSingleSeedFieldsAndAddsThePooledOnes() throws {
        let results = ByzantineResults(hostile: ["h1"], honest: ["h2"], kind: "imaging", seed: 1, rounds: 10,
                                       defences: [pooled()], wallSeconds: 1, seeds: [1, 2])
        let data = try JSONEncoder().encode(results)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["seeds"] as? [Int], [1, 2])
        XCTAssertEqual(object["seed"] as? Int, 1)
        let runs = try XCTUnwrap(((object["defences"] as? [[String: Any]])?.first?["runs"]) as? [[String: Any]])
        XCTAssertEqual(try XCTUnwrap(runs[2]["meanDifference"] as? Double), -0.02, accuracy: 1e-12)
        XCTAssertNotNil(runs[2]["meanAccuracy"] as? Double)
        XCTAssertEqual((runs[2]["seedRuns"] as? [[String: Any]])?.count, 2)
        XCTAssertEqual(try JSONDecoder().decode(ByzantineResults.self, from: data), results)
        // A result written before seeds existed still decodes.
        let old = #"{"hostile":["h1"],"honest":["h2"],"kind":"imaging","seed":1,"rounds":5,"wallSeconds":1,"defences":[{"name":"x","description":"","runs":[{"attack":"clean","meanAccuracy":0.5,"screenedRounds":0,"rounds":5,"wallSeconds":1}]}]}"#
        let decoded = try JSONDecoder().decode(ByzantineResults.self, from: Data(old.utf8))
        XCTAssertNil(decoded.seeds)
        XCTAssertEqual(decoded.seedCount, 1)
    }
}
