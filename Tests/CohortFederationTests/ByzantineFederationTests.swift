import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Issue 16, point 3, over the real path: five `FederatedNode`s on loopback, one of them
/// hostile (`Config.testAttack`), against a coordinator whose strategy the plan's factory makes.
final class ByzantineFederationTests: XCTestCase {
    /// Runs `rounds` rounds with node "h" running `attack`; returns the final global model's
    /// accuracy on held-out data and the round records.
    private func federate(plan: TrainingPlan, attack: ByzantineAttack?, rounds: Int = 6) throws -> (accuracy: Float, records: [Coordinator.RoundRecord]) {
        let (final, records) = try HostileNodeFederation.run(names: ["a", "b", "c", "d", "h"], plan: plan, attack: attack, rounds: rounds)
        return (Inference.accuracy(try final.makeModel(), HostileNodeFederation.data(count: 400, seed: 99)), records)
    }

    private func plan(strategy: String, screening: UpdateScreeningPlan?) -> TrainingPlan {
        var plan = TrainingPlan()
        plan.strategy = strategy
        plan.learningRate = 0.5
        plan.batchSize = 8
        plan.screening = screening
        return plan
    }

    func testMedianResistsASignflipThatRuinsUnboundedFedAvg() throws {
        let unbounded = try federate(plan: plan(strategy: "fedavg", screening: UpdateScreeningPlan()), attack: .signflip)
        let median = try federate(plan: plan(strategy: "median", screening: UpdateScreeningPlan()), attack: .signflip)
        let clean = try federate(plan: plan(strategy: "fedavg", screening: UpdateScreeningPlan()), attack: nil)
        // FedAvg is pushed against the honest direction (net −1.2× the mean update): near chance
        // on a balanced set, where the clean run and the median separate the classes.
        XCTAssertGreaterThan(clean.accuracy, 0.9)
        XCTAssertLessThan(unbounded.accuracy, 0.7)
        XCTAssertGreaterThan(median.accuracy, 0.9)
        XCTAssertTrue(unbounded.records.allSatisfy { $0.accepted.contains("h") })
    }

    func testTheStandardScreeningRejectsTheSignflippedUpdateEveryRound() throws {
        let defaulted = try federate(plan: plan(strategy: "fedavg", screening: .standard), attack: .signflip)
        XCTAssertGreaterThan(defaulted.accuracy, 0.9)
        for record in defaulted.records {
            XCTAssertFalse(record.accepted.contains("h"), "round \(record.round)")
            XCTAssertTrue(record.rejected["h"]?.hasPrefix("screening: rejected: update norm") ?? false, "\(record.rejected)")
        }
    }

    func testTheStandardScreeningCapsAnInflatedSampleCount() throws {
        let defaulted = try federate(plan: plan(strategy: "fedavg", screening: .standard), attack: .sampleInflation, rounds: 2)
        for record in defaulted.records {
            XCTAssertTrue(record.accepted.contains("h"))
            // Announced counts 40 × 4 and 10⁹: the median is 40, the cap 80.
            XCTAssertEqual(record.screening?["h"], "sample weight capped from 1000000000 to 80")
        }
    }
}
