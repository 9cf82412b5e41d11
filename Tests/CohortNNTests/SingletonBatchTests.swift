import CohortTensor
import CohortNN
import XCTest

/// A last batch of one sample would give BatchNorm one value per channel once a ResNet's last
/// stage is 1×1; training folds it into the batch before.
final class SingletonBatchTests: XCTestCase {
    private func data(_ n: Int) -> LabelledData {
        LabelledData(inputs: Tensor(shape: [n, 2], data: (0..<(2 * n)).map(Float.init)), labels: (0..<n).map { $0 % 2 })
    }

    func testTrailingSingletonJoinsThePreviousTrainingBatch() {
        var none: SeededRandom? = nil
        XCTAssertEqual(data(33).batches(of: 32, rng: &none).map(\.count), [32, 1])
        XCTAssertEqual(data(33).trainingBatches(of: 32, rng: &none).map(\.count), [33])
        XCTAssertEqual(data(65).trainingBatches(of: 32, rng: &none).map(\.count), [32, 33])
        XCTAssertEqual(data(34).trainingBatches(of: 32, rng: &none).map(\.count), [32, 2])
        XCTAssertEqual(data(1).trainingBatches(of: 32, rng: &none).map(\.count), [1])
        var rng: SeededRandom? = SeededRandom(seed: 5)
        let shuffled = data(33).trainingBatches(of: 32, rng: &rng)
        XCTAssertEqual(shuffled.map(\.count), [33])
        XCTAssertEqual(Set(shuffled[0].labels.indices.map { shuffled[0].inputs.data[2 * $0] }), Set((0..<33).map { Float(2 * $0) }), "every sample once")
    }

    func testTrainingAResNetWhoseLastStageIsOneByOneOnAnOddDatasetDoesNotTrap() throws {
        var options = PresetOptions(classes: 2, inputShape: [16, 16, 1])
        options.width = 2
        let model = try Sequential(spec: try ModelPreset.resnet18.spec(options), seed: 1)
        XCTAssertEqual(try model.shape(after: model.layers.firstIndex { $0.name == "layer4.1.relu" }! + 1), [1, 1, 16])
        var rng = SeededRandom(seed: 2)
        let n = 9
        let train = LabelledData(inputs: Tensor(shape: [n, 16, 16, 1], data: (0..<(n * 256)).map { _ in rng.uniform(-1, 1) }), labels: (0..<n).map { $0 % 2 })
        let config = TrainingConfig(epochs: 1, batchSize: 4)
        let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)])
        let history = try Trainer(model: model, optimizer: optimizer, config: config).fit(train)
        XCTAssertEqual(history.epochs.count, 1)
        XCTAssertTrue(history.epochs[0].trainLoss.isFinite)
    }
}
