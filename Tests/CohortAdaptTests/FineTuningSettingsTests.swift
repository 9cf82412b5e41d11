import XCTest
import CohortAdapt
import CohortNN
import CohortTensor

/// `FineTuning.Settings` may come from a JSON file (a simulation config): values the optimizer,
/// the early stopper or the trainer would stop the process on are errors instead.
final class FineTuningSettingsTests: XCTestCase {
    func testBadSettingsAreErrorsNotCrashes() throws {
        var rng = SeededRandom(seed: 1)
        let train = LabelledData(inputs: Tensor(shape: [12, 2], data: (0..<24).map { _ in rng.normal() }), labels: (0..<12).map { $0 % 2 })
        let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])
        var cases: [(String, (inout FineTuning.Settings) -> Void)] = []
        cases.append(("patience 0", { $0.patience = 0 }))
        cases.append(("batch size 0", { $0.batchSize = 0 }))
        cases.append(("negative learning rate", { $0.learningRate = -0.1 }))
        cases.append(("momentum 1", { $0.momentum = 1 }))
        cases.append(("negative weight decay", { $0.weightDecay = -1 }))
        cases.append(("NaN L2-SP", { $0.l2spAlpha = .nan }))
        for (name, change) in cases {
            var settings = FineTuning.Settings()
            settings.epochs = 2
            change(&settings)
            let model = try Sequential(spec: spec, seed: 1)
            XCTAssertThrowsError(try FineTuning.run(model, train: train, validation: train, settings: settings), name) {
                XCTAssertTrue($0 is TrainingError, "\(name): \($0)")
            }
        }
        var good = FineTuning.Settings()
        good.epochs = 2
        XCTAssertNoThrow(try FineTuning.run(try Sequential(spec: spec, seed: 1), train: train, validation: train, settings: good))
    }
}
