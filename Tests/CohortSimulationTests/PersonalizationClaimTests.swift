@testable import CohortSimulation
import Foundation
import XCTest

/// The report's personalisation claim, computed from the arms' per-hospital scores.
final class PersonalizationClaimTests: XCTestCase {
    private func arm(_ name: String, _ accuracies: [Double], failed: String? = nil) -> ArmResult {
        ArmResult(name: name, description: name, federated: true,
                  perSite: accuracies.enumerated().map { SiteScore(site: "h\($0.offset + 1)", accuracy: $0.element, balancedAccuracy: $0.element, samples: 100) },
                  rounds: [], bytesUp: 0, bytesDown: 0, wallSeconds: 1, failed: failed)
    }

    func testHoldsOnlyWhenOneArmBeatsLocalEverywhereAndTheBestOtherMean() throws {
        let local = arm("local-only", [0.70, 0.60, 0.80]), fedavg = arm("fedavg", [0.60, 0.62, 0.60]), fedbn = arm("fedbn", [0.75, 0.70, 0.70])
        let pooled = arm("pooled", [0.99, 0.99, 0.99])
        // ditto beats local-only everywhere and fedbn's mean (0.717); pooled is a reference, not a rival.
        let holds = try XCTUnwrap(PersonalizationClaim([local, fedavg, fedbn, pooled, arm("ditto", [0.71, 0.65, 0.81]), arm("fedrep", [0.9, 0.9, 0.5])]))
        XCTAssertTrue(holds.holds)
        XCTAssertEqual(holds.bestOther.arm, "fedbn")
        XCTAssertTrue(holds.note.contains("HOLDS —"), holds.note)
        XCTAssertFalse(holds.note.contains("DOES NOT HOLD"), holds.note)
        XCTAssertTrue(holds.note.contains("fedrep mean 76.7%"), holds.note)
        XCTAssertTrue(holds.note.contains("not above local-only at h3 50.0% vs 80.0%"), holds.note)
        // Above local-only everywhere but not above fedbn's mean; or above the mean but below at one hospital: neither is enough.
        let belowMean = try XCTUnwrap(PersonalizationClaim([local, fedavg, fedbn, arm("ditto", [0.71, 0.61, 0.81])]))
        XCTAssertFalse(belowMean.holds, belowMean.note)
        XCTAssertTrue(belowMean.note.contains("DOES NOT HOLD"), belowMean.note)
        let tie = try XCTUnwrap(PersonalizationClaim([local, fedbn, arm("fedavg-ft", [0.95, 0.95, 0.80])]))
        XCTAssertFalse(tie.holds, "equal to local-only at h3 is not beating it")
        // A failed personalised arm does not count; without local-only or a personalised arm there is no claim.
        XCTAssertNil(PersonalizationClaim([local, fedbn, arm("ditto", [0.9, 0.9, 0.9], failed: "crashed")]))
        XCTAssertNil(PersonalizationClaim([fedbn, arm("ditto", [0.9, 0.9, 0.9])]))
        XCTAssertTrue(Findings.notes([local, fedbn, arm("ditto", [0.71, 0.65, 0.81])], sites: [], sourceAccuracy: nil).contains { $0.contains("beats local-only at every hospital") })
    }

    func testDefaultArmsIncludeThePersonalisedOnes() {
        for name in ["local-only", "fedavg", "fedbn", "fedavg-ft", "ditto", "fedrep"] { XCTAssertTrue(SimulationArm.defaultNames.contains(name), name) }
        XCTAssertTrue(SimulationArm.personalised.allSatisfy(\.isFederated))
    }
}
