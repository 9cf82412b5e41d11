import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Issue 16 point 2: per-node expected sample counts from the secrets file. A node claiming 10⁹
/// samples (`ByzantineAttack.sampleInflation`, over real sockets) counts with its expected count,
/// or is left out when the plan's screening rejects; the round record says which and why.
final class ExpectedSamplesTests: XCTestCase {
    /// Runs `rounds` rounds of four nodes, "h" inflating its sample count, with the given
    /// expected counts; returns the final global weights and the round records.
    private func federate(plan: TrainingPlan, expected: [String: Int], rounds: Int = 2) throws -> (weights: [UInt32], records: [Coordinator.RoundRecord]) {
        let (final, records) = try HostileNodeFederation.run(names: ["a", "b", "c", "h"], plan: plan, attack: .sampleInflation,
                                                             expectedSamples: expected, rounds: rounds)
        return (final.tensors.flatMap { $0.value.data.map(\.bitPattern) }, records)
    }

    private func plan(screening: UpdateScreeningPlan?) -> TrainingPlan {
        var plan = TrainingPlan()
        plan.learningRate = 0.5
        plan.batchSize = 8
        plan.screening = screening
        return plan
    }

    func testAClaimOfABillionSamplesIsCappedAtTheExpectedCount() throws {
        let capped = try federate(plan: plan(screening: nil), expected: ["a": 40, "b": 40, "c": 40, "h": 40])
        // The reference: the same updates with h counted at its honest 40 (the plan's absolute cap).
        let honest = try federate(plan: plan(screening: UpdateScreeningPlan(maxSamples: 40)), expected: [:])
        let uncapped = try federate(plan: plan(screening: nil), expected: [:])
        XCTAssertEqual(capped.weights, honest.weights)
        XCTAssertNotEqual(capped.weights, uncapped.weights)   // 10⁹ samples would have dominated
        for record in capped.records {
            XCTAssertTrue(record.accepted.contains("h"), "round \(record.round)")
            XCTAssertEqual(record.screening?["h"], "sample weight capped from 1000000000 to 40, the node's expected sample count in the secrets file")
            XCTAssertNil(record.screening?["a"])
        }
    }

    func testUnderARejectingPlanTheOverClaimingUpdateIsLeftOut() throws {
        let screening = UpdateScreeningPlan(maxNorm: 1e6, action: .reject)
        let r = try federate(plan: plan(screening: screening), expected: ["h": 40])
        for record in r.records {
            XCTAssertEqual(record.accepted, ["a", "b", "c"], "round \(record.round)")
            XCTAssertEqual(record.rejected["h"], "screening: claims 1000000000 samples, over the 40 the secrets file expects for the node (the plan's screening rejects)")
        }
    }
}
