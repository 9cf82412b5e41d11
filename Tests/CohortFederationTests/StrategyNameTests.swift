import XCTest
@testable import CohortFederation
import CohortNN

/// Strategy names are an enum: plan JSON keeps its strings, unknown names are a typed error
/// listing the valid ones, and the factory picks the DP-FedAvg wrapper under privacy.
final class StrategyNameTests: XCTestCase {
    private func model() throws -> Sequential {
        try Sequential(spec: ModelSpec(inputShape: [3], layers: [
            LayerSpec(.dense, name: "fc", units: 2), LayerSpec(.batchnorm1d, name: "bn"), LayerSpec(.dense, name: "head", units: 2),
        ]), seed: 1)
    }

    func testEveryPlanStringParsesAndBuildsItsStrategy() throws {
        let expected = ["fedavg": "fedavg", "fedprox": "fedprox", "fedbn": "fedbn+fedavg", "fedadam": "fedadam", "fedyogi": "fedyogi",
                        "fedadagrad": "fedadagrad", "median": "median", "trimmed-mean": "trimmed-mean(0.2)", "krum": "krum", "multi-krum": "multi-krum"]
        XCTAssertEqual(Set(StrategyName.allCases.map(\.rawValue)), Set(expected.keys))
        for (name, built) in expected {
            let plan = try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"strategy":"\#(name)","proximalMu":0.1}"#.utf8))
            XCTAssertEqual(try plan.strategyName.rawValue, name)
            let strategy = try StrategyFactory.make(plan, model: try model())
            XCTAssertEqual(strategy.name, built, name)
        }
    }

    func testAnUnknownNameIsATypedErrorListingTheValidOnes() throws {
        var plan = TrainingPlan()
        plan.strategy = "fedmagic"
        XCTAssertThrowsError(try plan.strategyName) { error in
            XCTAssertEqual((error as? UnknownStrategy)?.name, "fedmagic")
            XCTAssertEqual("\(error)", "unknown strategy 'fedmagic' (known: fedavg, fedprox, fedbn, fedadam, fedyogi, fedadagrad, median, trimmed-mean, krum, multi-krum)")
        }
        XCTAssertThrowsError(try plan.validate()) { XCTAssertTrue("\($0)".contains("known: fedavg, fedprox"), "\($0)") }
        XCTAssertThrowsError(try StrategyFactory.make(plan, model: try model())) { XCTAssertTrue($0 is UnknownStrategy, "\($0)") }
    }

    func testPrivacyMakesTheFactoryPickTheDPWrapperOverTheAveragingStrategy() throws {
        var plan = TrainingPlan()
        plan.strategy = "fedbn"
        plan.privacy = PrivacyPlan(clipNorm: 0.5, noiseMultiplier: 1.2)
        let dp = try XCTUnwrap(try StrategyFactory.make(plan, model: try model()) as? DPFedAvg)
        XCTAssertEqual(dp.clipNorm, 0.5)
        XCTAssertEqual(dp.noiseMultiplier, 1.2)
        XCTAssertTrue(dp.localNames.isSuperset(of: ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"]), "\(dp.localNames)")
        XCTAssertFalse(try StrategyFactory.base(plan, model: try model()) is DPFedAvg, "base never wraps")
        plan.privacy?.noiseMultiplier = nil
        XCTAssertThrowsError(try StrategyFactory.make(plan, model: try model()), "σ unresolved is an error, not a crash")
        plan.privacy = PrivacyPlan(clipNorm: 0.5, noiseMultiplier: 1.2)
        plan.strategy = "median"
        XCTAssertThrowsError(try StrategyFactory.make(plan, model: try model()), "median cannot run under privacy")
    }
}

/// The screening wrapper does not hide a server optimizer's state from the journal.
final class ScreenedServerStateTests: XCTestCase {
    func testTheJournalSeesTheMomentsBehindTheScreeningWrapper() throws {
        var plan = TrainingPlan()
        plan.strategy = "fedadam"
        plan.screening = UpdateScreeningPlan(maxNormMultiple: 5)
        let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)]), seed: 1)
        let strategy = try StrategyFactory.make(plan, model: model)
        XCTAssertTrue(strategy is ScreenedAggregation, strategy.name)
        XCTAssertNotNil(Coordinator.persistentState(of: strategy))
        XCTAssertNil(Coordinator.persistentState(of: ScreenedAggregation(base: FedAvg(), plan: plan.screening!)))
    }
}
