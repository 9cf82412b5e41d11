import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Expected sample counts (secrets file) under secure aggregation: a node claiming 10⁹ samples
/// is weighted with its expected count in the assignment's `totalSamples`, in its own
/// assignment (`samples`) and in the divisor, and the round record says so. Before, the claim
/// went into `totalSamples` untouched and no record mentioned it.
final class SecureExpectedSamplesTests: XCTestCase {
    private func federate(expected: [String: Int]) throws -> (weights: [Float], records: [Coordinator.RoundRecord]) {
        var plan = TrainingPlan()
        plan.learningRate = 0.5
        plan.batchSize = 8
        plan.secureAggregation = SecureAggregationPlan()
        let (final, records) = try HostileNodeFederation.run(names: ["a", "b", "c", "h"], plan: plan, attack: .sampleInflation,
                                                             expectedSamples: expected, rounds: 2)
        return (final.tensors.sorted { $0.name < $1.name }.flatMap { $0.value.data }, records)
    }

    func testAnInflatedClaimIsCappedUnderSecureAggregation() throws {
        // Every node, h included, keeps its session to the end (checked by the federation).
        let capped = try federate(expected: ["a": 40, "b": 40, "c": 40, "h": 40])
        XCTAssertEqual(capped.records.count, 2)
        for record in capped.records {
            XCTAssertEqual(record.accepted.sorted(), ["a", "b", "c", "h"], "round \(record.round)")
            XCTAssertEqual(record.screening?["h"], "sample weight capped from 1000000000 to 40, the node's expected sample count in the secrets file")
            XCTAssertNil(record.screening?["a"])
        }
        XCTAssertTrue(capped.weights.allSatisfy(\.isFinite))
    }
}
