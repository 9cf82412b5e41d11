import CohortNN
@testable import CohortSimulation
import Foundation
import XCTest

/// `cohort simulate --model PRESET`: the config fields, their defaults and validation, and the
/// fedavg-lora arm's plan.
final class SimulationModelConfigTests: XCTestCase {
    func testDefaultRunKeepsTheSmallCNNAndItsArms() throws {
        let config = SimulationConfig()
        XCTAssertNil(config.model)
        XCTAssertEqual(config.arms, SimulationArm.defaultNames)
        XCTAssertFalse(config.arms.contains("fedavg-lora"))
        XCTAssertFalse(config.pretrainKey.contains("resnet"))
    }

    func testModelBringsItsArmsUnlessArmsWereNamed() throws {
        var config = SimulationConfig()
        config.useModel("resnet18")
        XCTAssertEqual(config.arms, ["source-only", "fedavg", "fedavg-lora"])
        try config.validate()
        var named = SimulationConfig()
        named.arms = ["fedavg"]
        named.useModel("resnet18")
        XCTAssertEqual(named.arms, ["fedavg"])

        let fromFile = try JSONDecoder().decode(SimulationConfig.self, from: Data(#"{"model":"resnet18","presetOptions":{"width":8}}"#.utf8))
        XCTAssertEqual(fromFile.arms, SimulationArm.modelDefaultNames)
        XCTAssertEqual(fromFile.presetOptions?.width, 8)
        let withArms = try JSONDecoder().decode(SimulationConfig.self, from: Data(#"{"model":"resnet18","arms":["fedavg"]}"#.utf8))
        XCTAssertEqual(withArms.arms, ["fedavg"])
        XCTAssertThrowsError(try JSONDecoder().decode(SimulationConfig.self, from: Data(#"{"model":"resnet18","presetOptions":{"widht":8}}"#.utf8)))
    }

    func testTheSourceModelCacheKeyNamesTheModelAndItsSize() throws {
        var a = SimulationConfig(), b = SimulationConfig()
        a.useModel("resnet18")
        b.useModel("resnet18")
        var knobs = PresetKnobs()
        knobs.width = 8
        b.presetOptions = knobs
        XCTAssertNotEqual(a.pretrainKey, SimulationConfig().pretrainKey)
        XCTAssertNotEqual(a.pretrainKey, b.pretrainKey)
        XCTAssertTrue(a.pretrainKey.hasSuffix("resnet18-width16"), a.pretrainKey)
        XCTAssertTrue(b.pretrainKey.hasSuffix("resnet18-width8"), b.pretrainKey)
    }

    func testValidationRefusesWhatCannotRun() {
        var unknown = SimulationConfig()
        unknown.useModel("resnet19")
        XCTAssertThrowsError(try unknown.validate()) { XCTAssertTrue("\($0)".contains("resnet19"), "\($0)") }
        var tabular = SimulationConfig()
        tabular.kind = "tabular"
        tabular.useModel("resnet18")
        XCTAssertThrowsError(try tabular.validate()) { XCTAssertTrue("\($0)".contains("imaging"), "\($0)") }
        var knobsOnly = SimulationConfig()
        knobsOnly.presetOptions = PresetKnobs()
        XCTAssertThrowsError(try knobsOnly.validate())
        var rank = SimulationConfig()
        rank.loraRank = 0
        XCTAssertThrowsError(try rank.validate()) { XCTAssertTrue("\($0)".contains("loraRank"), "\($0)") }
        var tooWide = SimulationConfig()
        tooWide.useModel("resnet18")
        var knobs = PresetKnobs()
        knobs.width = 0
        tooWide.presetOptions = knobs
        XCTAssertThrowsError(try tooWide.validate()) { XCTAssertTrue("\($0)".contains("width"), "\($0)") }
    }

    func testReducedResNetBuildsOnTheScansAndItsLoRATargetsMatch() throws {
        let backbone = try SimulationBackbone(name: "resnet18", knobs: nil)
        XCTAssertEqual(backbone.knobs.width, 16)
        var spec = try backbone.spec(classes: 3, inputShape: [32, 32, 1])
        spec.lora = LoRASpec(rank: 4, targets: backbone.defaultLoRATargets)
        let model = try Sequential(spec: spec, seed: 1)
        XCTAssertEqual(model.outputShape, [3])
        XCTAssertEqual(model.parameters.filter(\.isAdapter).count, 32, "A and B for each of the 16 block convolutions")
        XCTAssertEqual(backbone.preset.headNode, "fc")
    }

    func testTheLoRAArmsPlanCarriesLoRAAndTrainsOnlyTheHead() {
        let lora = LoRASpec(rank: 4, targets: ["layer*.conv*"])
        let runner = FederatedArmRunner(executable: "cohort", arm: .fedavgLoRA, config: SimulationConfig(), sites: [], sourceCheckpoint: "s.ckpt",
                                        directory: "/tmp/x", lora: lora, loraTrainablePrefixes: ["fc"])
        XCTAssertEqual(runner.plan.lora, lora)
        XCTAssertEqual(runner.plan.trainablePrefixes, ["fc"])
        XCTAssertEqual(runner.plan.strategy, "fedavg")
        let full = FederatedArmRunner(executable: "cohort", arm: .fedavg, config: SimulationConfig(), sites: [], sourceCheckpoint: "s.ckpt",
                                      directory: "/tmp/x", lora: lora, loraTrainablePrefixes: ["fc"])
        XCTAssertNil(full.plan.lora, "fedavg fine-tunes everything")
        XCTAssertNil(full.plan.trainablePrefixes)
    }
}

final class LoRAFindingsTests: XCTestCase {
    private func arm(_ name: String, accuracy: Double, up: Int, down: Int) -> ArmResult {
        ArmResult(name: name, description: "", federated: true,
                  perSite: [SiteScore(site: "a", accuracy: accuracy, balancedAccuracy: accuracy, samples: 10)],
                  rounds: (1...2).map { RoundRecord(round: $0, perSiteAccuracy: ["a": accuracy], bytesUp: up / 2, bytesDown: down / 2, seconds: 1, participants: 1) },
                  bytesUp: up, bytesDown: down, wallSeconds: 1)
    }

    func testTheLoRAClaimComparesBytesAndAccuracyWithFullFineTuning() {
        let holds = Findings.notes([arm("fedavg", accuracy: 0.70, up: 20_000_000, down: 20_000_000), arm("fedavg-lora", accuracy: 0.69, up: 1_000_000, down: 3_000_000)],
                                   sites: [], sourceAccuracy: nil).first { $0.hasPrefix("fedavg-lora") }
        XCTAssertTrue(holds?.contains(": HOLDS — 20.0× fewer bytes up") ?? false, holds ?? "no LoRA note")
        let fails = Findings.notes([arm("fedavg", accuracy: 0.70, up: 20_000_000, down: 20_000_000), arm("fedavg-lora", accuracy: 0.60, up: 1_000_000, down: 3_000_000)],
                                   sites: [], sourceAccuracy: nil).first { $0.hasPrefix("fedavg-lora") }
        XCTAssertTrue(fails?.contains("DOES NOT HOLD") ?? false, fails ?? "no LoRA note")
        XCTAssertNil(Findings.notes([arm("fedavg", accuracy: 0.7, up: 1, down: 1)], sites: [], sourceAccuracy: nil).first { $0.hasPrefix("fedavg-lora") })
    }
}
