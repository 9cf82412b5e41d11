import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Screening is off unless the plan names bounds (`UpdateScreeningPlan.standard` explicitly),
/// `"screening": {}` also screens nothing, and the relative sample-weight cap.
final class DefaultScreeningTests: XCTestCase {
    private func decode(_ json: String) throws -> TrainingPlan { try JSONDecoder().decode(TrainingPlan.self, from: Data(json.utf8)) }

    func testAPlanWithoutScreeningScreensNothingAndStandardIsNamedExplicitly() throws {
        let plan = try decode("{}")
        XCTAssertNil(plan.screening)
        XCTAssertNil(plan.effectiveScreening)
        let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)]), seed: 0)
        XCTAssertTrue(try StrategyFactory.make(plan, model: model) is FedAvg)
        XCTAssertEqual(UpdateScreeningPlan.standard.maxNormMultiple, 5)
        XCTAssertEqual(UpdateScreeningPlan.standard.maxSamplesMultiple, 2)
        XCTAssertEqual(UpdateScreeningPlan.standard.action, .reject)
        var screened = plan
        screened.screening = .standard
        XCTAssertEqual(screened.effectiveScreening, .standard)
        XCTAssertEqual((try StrategyFactory.make(screened, model: model) as? ScreenedAggregation)?.plan, .standard)
    }

    func testAnEmptyScreeningTurnsItOffAndSurvivesTheWire() throws {
        let plan = try decode(#"{"screening": {}}"#)
        XCTAssertNil(plan.effectiveScreening)
        let again = try JSONDecoder().decode(TrainingPlan.self, from: try JSONEncoder().encode(plan))
        XCTAssertNil(again.effectiveScreening)
        XCTAssertNoThrow(try again.validate())
        let strategy = try StrategyFactory.make(plan, model: try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)]), seed: 0))
        XCTAssertTrue(strategy is FedAvg, "\(type(of: strategy))")
    }

    func testPrivacyAndSecureAggregationRefuseScreening() throws {
        var privacy = TrainingPlan()
        privacy.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: 1, delta: 1e-5, targetEpsilon: nil, mode: .central)
        XCTAssertNil(privacy.effectiveScreening)
        XCTAssertNoThrow(try privacy.validate())
        var secure = TrainingPlan()
        secure.secureAggregation = SecureAggregationPlan()
        XCTAssertNil(secure.effectiveScreening)
        // A plan that names bounds and privacy is still refused.
        privacy.screening = UpdateScreeningPlan(maxNormMultiple: 3)
        XCTAssertThrowsError(try privacy.validate())
    }

    func testMaxSamplesMultipleIsValidated() throws {
        XCTAssertThrowsError(try decode(#"{"screening": {"maxSamplesMultiple": 0.5}}"#).validate()) { error in
            XCTAssertTrue("\(error)".contains("maxSamplesMultiple"), "\(error)")
        }
        XCTAssertNoThrow(try decode(#"{"screening": {"maxSamplesMultiple": 2}}"#).validate())
    }

    func testTheRelativeWeightCapFollowsTheRoundsMedianCount() throws {
        let screening = UpdateScreeningPlan(maxSamplesMultiple: 2)
        let screened = ScreenedAggregation(base: FedAvg(), plan: screening)
        let global = ["w": Tensor(shape: [2], data: [0, 0])]
        screened.begin(round: 1, global: global)
        for (samples, value) in [(10, Float(1)), (20, 1), (30, 1), (1_000_000_000, -1)] {
            try screened.accumulate(try ModelDelta([("w", Tensor(shape: [2], data: [value, value]))]), samples: samples)
        }
        // Median of 10, 20, 30, 10⁹ is 25: the cap is 50.
        XCTAssertEqual(screened.screen(), [.kept, .kept, .kept, .weightCapped(from: 1_000_000_000, to: 50)])
        let out = try screened.finish()
        // (10 + 20 + 30 − 50) / 110.
        XCTAssertEqual(out["w"]!.data[0], Float(10.0 / 110.0), accuracy: 1e-6)
    }
}
