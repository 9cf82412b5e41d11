import XCTest
import CohortNN
import CohortTensor

/// A trailing batch of one row joins the previous batch, so a BatchNorm model trains on any
/// row count of at least 2; with one row in total the trainer throws an error naming the layer.
final class SingleRowBatchTests: XCTestCase {
    private func data(_ n: Int, seed: UInt64 = 1) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        return LabelledData(inputs: Tensor(shape: [n, 3], data: (0..<(3 * n)).map { _ in rng.normal() }), labels: (0..<n).map { $0 % 2 })
    }

    private func batchNormModel() throws -> Sequential {
        try Sequential(spec: ModelSpec(inputShape: [3], layers: [
            LayerSpec(.dense, name: "fc", units: 4), LayerSpec(.batchnorm1d, name: "bn"), LayerSpec(.relu, name: "act"),
            LayerSpec(.dense, name: "head", units: 2),
        ]), seed: 1)
    }

    func testTrailingSingleRowIsFoldedIntoThePreviousBatch() {
        var rng: SeededRandom? = SeededRandom(seed: 4)
        let batches = data(161).trainingBatches(of: 32, rng: &rng)
        XCTAssertEqual(batches.map(\.count), [32, 32, 32, 32, 33])
        // Every row exactly once: the folded batch is not a duplicate or a drop.
        let rows = batches.flatMap { b in (0..<b.count).map { Array(b.inputs.data[($0 * 3)..<($0 * 3 + 3)]) } }
        XCTAssertEqual(Set(rows.map { $0.description }).count, 161)
        // Other remainders are left alone, and the counting helper agrees with the batches.
        for (n, size) in [(160, 32), (162, 32), (1, 32), (2, 1), (33, 32), (5, 8), (7, 3)] {
            var r: SeededRandom? = nil
            let made = data(n).trainingBatches(of: size, rng: &r)
            XCTAssertEqual(made.reduce(0) { $0 + $1.count }, n)
            XCTAssertEqual(made.count, LabelledData.trainingBatchCount(rows: n, size: size), "\(n) rows, batch \(size)")
            if n > 1 && size > 1 { XCTAssertTrue(made.allSatisfy { $0.count > 1 }, "\(n) rows, batch \(size): \(made.map(\.count))") }
        }
        var r: SeededRandom? = nil
        XCTAssertEqual(data(33).trainingBatches(of: 32, rng: &r).map(\.count), [33])
        XCTAssertEqual(data(162).trainingBatches(of: 32, rng: &r).map(\.count), [32, 32, 32, 32, 32, 2])
    }

    /// 161 rows at batch 32 left a last batch of one row, which stopped the process with a
    /// precondition failure in BatchNorm's forward pass.
    func testBatchNormModelTrainsOn161RowsAtBatch32() throws {
        let model = try batchNormModel()
        let bn = model.layer(named: "bn") as! BatchNorm
        let opt = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.05)], momentum: 0.9)
        let history = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 3, batchSize: 32, seed: 2)).fit(data(161))
        XCTAssertEqual(history.epochs.count, 3)
        XCTAssertTrue(history.epochs.allSatisfy { $0.trainLoss.isFinite })
        XCTAssertTrue(bn.runningVar.value.data.allSatisfy { $0.isFinite && $0 > 0 })
        XCTAssertNotEqual(bn.runningMean.value.data, [0, 0, 0, 0], "the running statistics were updated")
    }

    func testOneTrainingRowWithBatchNormThrowsNamingTheLayer() throws {
        let model = try batchNormModel()
        let before = model.stateDict().map(\.value)
        let opt = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.05)])
        let trainer = Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 1, batchSize: 32))
        XCTAssertThrowsError(try trainer.fit(data(1))) { error in
            guard let e = error as? BatchStatisticsError else { return XCTFail("expected BatchStatisticsError, got \(error)") }
            XCTAssertEqual(e.layer, "bn")
            XCTAssertEqual(e.totalRows, 1)
        }
        XCTAssertEqual(model.stateDict().map(\.value), before, "nothing trained")
        // A batch size of 1 would give every batch one row.
        let perRow = Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 1, batchSize: 1))
        XCTAssertThrowsError(try perRow.fit(data(10))) { XCTAssertEqual(($0 as? BatchStatisticsError)?.layer, "bn") }
        // So would a single-row step called directly.
        XCTAssertThrowsError(try perRow.step(data(1))) { XCTAssertEqual(($0 as? BatchStatisticsError)?.layer, "bn") }
        // Without BatchNorm one row is a valid (if tiny) training set.
        let plain = try Sequential(spec: ModelSpec(inputShape: [3], layers: [LayerSpec(.dense, name: "head", units: 2)]), seed: 1)
        let plainOpt = SGD(groups: [ParameterGroup(parameters: plain.parameters, learningRate: 0.05)])
        XCTAssertNoThrow(try Trainer(model: plain, optimizer: plainOpt, config: TrainingConfig(epochs: 1, batchSize: 1)).fit(data(1)))
    }

    func testBatchNorm2dCountsSpatialPositions() throws {
        // One 2×2 image gives batchnorm2d four values per channel: trainable.
        let conv = try Sequential(spec: ModelSpec(inputShape: [2, 2, 1], layers: [
            LayerSpec(.conv2d, name: "conv", units: 2, kernel: 1), LayerSpec(.batchnorm2d, name: "bn2"),
            LayerSpec(.globalavgpool, name: "pool"), LayerSpec(.batchnorm1d, name: "bn1"), LayerSpec(.dense, name: "head", units: 2),
        ]), seed: 1)
        XCTAssertEqual(conv.batchNormStarved(batchRows: 1), "bn1", "bn2 sees 4 positions, bn1 one value")
        XCTAssertNil(conv.batchNormStarved(batchRows: 2))
        let convOnly = try Sequential(spec: ModelSpec(inputShape: [2, 2, 1], layers: [
            LayerSpec(.conv2d, name: "conv", units: 2, kernel: 1), LayerSpec(.batchnorm2d, name: "bn2"),
            LayerSpec(.flatten, name: "flat"), LayerSpec(.dense, name: "head", units: 2),
        ]), seed: 1)
        XCTAssertNil(convOnly.batchNormStarved(batchRows: 1))
        let one = LabelledData(inputs: Tensor(shape: [1, 2, 2, 1], data: [0.1, -0.3, 0.7, 0.2]), labels: [1])
        let opt = SGD(groups: [ParameterGroup(parameters: convOnly.parameters, learningRate: 0.05)])
        XCTAssertNoThrow(try Trainer(model: convOnly, optimizer: opt, config: TrainingConfig(epochs: 1, batchSize: 4)).fit(one))
    }

    func testInvalidBatchSizeIsAnErrorNotACrash() throws {
        let model = try batchNormModel()
        let opt = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.05)])
        XCTAssertThrowsError(try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 1, batchSize: 0)).fit(data(8))) {
            XCTAssertTrue($0 is TrainingError)
        }
        XCTAssertThrowsError(try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: -1, batchSize: 4)).fit(data(8))) {
            XCTAssertTrue($0 is TrainingError)
        }
        XCTAssertThrowsError(try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 2, batchSize: 4, earlyStoppingPatience: 0))
            .fit(data(8), validation: data(4, seed: 2))) { XCTAssertTrue($0 is TrainingError) }
    }
}
