import XCTest
import CohortNN
import CohortTensor

/// Synthetic tasks for the training tests.
enum Synthetic {
    /// Two interleaved half circles with Gaussian noise, labels 0/1.
    static func twoMoons(_ n: Int, noise: Float, seed: UInt64) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        var x: [Float] = [], y: [Int] = []
        for i in 0..<n {
            let label = i % 2
            let t = Float.pi * rng.uniform()
            let (px, py): (Float, Float) = label == 0 ? (cosf(t), sinf(t)) : (1 - cosf(t), 0.5 - sinf(t))
            x += [px + noise * rng.normal(), py + noise * rng.normal()]
            y.append(label)
        }
        return LabelledData(inputs: Tensor(shape: [n, 2], data: x), labels: y)
    }

    /// 12×12 one-channel images: class 0 a horizontal bar, 1 a vertical bar, 2 a diagonal, at a
    /// random position, on noise.
    static func bars(_ n: Int, seed: UInt64) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        var x = [Float](repeating: 0, count: n * 144), y: [Int] = []
        for i in 0..<n {
            let label = rng.int(below: 3)
            let pos = 2 + rng.int(below: 8)
            for p in 0..<144 { x[i * 144 + p] = 0.3 * rng.normal() }
            for k in 1..<11 {
                let (r, c) = label == 0 ? (pos, k) : label == 1 ? (k, pos) : (k, k)
                x[i * 144 + r * 12 + c] += 1.5
            }
            y.append(label)
        }
        return LabelledData(inputs: Tensor(shape: [n, 12, 12, 1], data: x), labels: y)
    }

    static func mlp(_ inputs: Int, hidden: [Int], classes: Int) -> ModelSpec {
        var layers: [LayerSpec] = []
        for (i, h) in hidden.enumerated() {
            layers += [LayerSpec(.dense, name: "features.\(2 * i)", units: h), LayerSpec(.relu, name: "features.\(2 * i + 1)")]
        }
        layers.append(LayerSpec(.dense, name: "head", units: classes))
        return ModelSpec(inputShape: [inputs], layers: layers)
    }
}

final class TrainingTests: XCTestCase {
    func testMLPLearnsTwoMoons() throws {
        let train = Synthetic.twoMoons(1000, noise: 0.1, seed: 1), test = Synthetic.twoMoons(500, noise: 0.1, seed: 2)
        let model = try Sequential(spec: Synthetic.mlp(2, hidden: [32, 32], classes: 2), seed: 7)
        let opt = Adam(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)])
        _ = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 40, batchSize: 32, seed: 3)).fit(train)
        let acc = Inference.accuracy(model, test)
        XCTAssertGreaterThan(acc, 0.95, "two-moons test accuracy \(acc)")
    }

    func testSmallCNNLearnsBarOrientation() throws {
        let train = Synthetic.bars(600, seed: 1), test = Synthetic.bars(300, seed: 2)
        let spec = ModelSpec(inputShape: [12, 12, 1], layers: [
            LayerSpec(.conv2d, name: "features.0", units: 8, kernel: 3, padding: 1),
            LayerSpec(.batchnorm2d, name: "features.1"), LayerSpec(.relu, name: "features.2"),
            LayerSpec(.maxpool2d, name: "features.3", kernel: 2),
            LayerSpec(.conv2d, name: "features.4", units: 16, kernel: 3, padding: 1), LayerSpec(.relu, name: "features.5"),
            LayerSpec(.globalavgpool, name: "pool"), LayerSpec(.dense, name: "head", units: 3),
        ])
        let model = try Sequential(spec: spec, seed: 5)
        let opt = Adam(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)])
        _ = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 15, batchSize: 32, seed: 1)).fit(train)
        let acc = Inference.accuracy(model, test)
        XCTAssertGreaterThan(acc, 0.9, "bars test accuracy \(acc) (chance is 0.33)")
    }

    func testBatchNormEvaluationUsesRunningStatistics() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.batchnorm1d, name: "bn", momentum: 0.1)]), seed: 1)
        var rng = SeededRandom(seed: 2)
        for _ in 0..<200 {
            let x = Tensor(shape: [64, 2], data: (0..<128).map { i in i % 2 == 0 ? 5 + 2 * rng.normal() : -1 + 0.5 * rng.normal() })
            _ = model.forward(x, mode: .training)
        }
        let bn = model.layers[0] as! BatchNorm
        XCTAssertEqual(bn.runningMean.value.data[0], 5, accuracy: 0.3)
        XCTAssertEqual(bn.runningMean.value.data[1], -1, accuracy: 0.1)
        XCTAssertEqual(bn.runningVar.value.data[0], 4, accuracy: 0.8)
        // In evaluation a sample's output is fixed by the running statistics, not by its batch.
        let alone = model.forward(Tensor(shape: [1, 2], data: [7, 0]), mode: .evaluation)
        let withOthers = model.forward(Tensor(shape: [3, 2], data: [7, 0, 100, 100, -50, 3]), mode: .evaluation)
        XCTAssertEqual(alone.data, Array(withOthers.data[0..<2]))
        let expected = (7 - bn.runningMean.value.data[0]) / (bn.runningVar.value.data[0] + 1e-5).squareRoot()
        XCTAssertEqual(alone.data[0], expected, accuracy: 1e-5)
    }

    func testFrozenParametersAreBitForBitUnchanged() throws {
        let model = try Sequential(spec: Synthetic.mlp(2, hidden: [16, 16], classes: 2), seed: 1)
        model.setTrainable(false, prefix: "features.0")
        let before = model.layer(named: "features.0")!.parameters.map(\.value)
        let l2sp = L2SP(reference: model.parameters, alpha: 0.1)
        let opt = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.1, weightDecay: 0.01)], momentum: 0.9, nesterov: true)
        _ = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 3, batchSize: 16, l2sp: l2sp))
            .fit(Synthetic.twoMoons(200, noise: 0.1, seed: 1))
        XCTAssertEqual(model.layer(named: "features.0")!.parameters.map(\.value), before)
        XCTAssertNotEqual(model.layer(named: "head")!.parameters[0].value, try Sequential(spec: Synthetic.mlp(2, hidden: [16, 16], classes: 2), seed: 1).layer(named: "head")!.parameters[0].value)
        // Prefix matching respects name boundaries.
        XCTAssertTrue(Sequential.name("features.1.weight", hasPrefix: "features.1"))
        XCTAssertFalse(Sequential.name("features.10.weight", hasPrefix: "features.1"))
    }

    func testBackwardStopsAtEarliestTrainableLayer() throws {
        let model = try Sequential(spec: Synthetic.mlp(4, hidden: [8, 8], classes: 3), seed: 1) // fc, relu, fc, relu, head
        let x = Tensor(shape: [5, 4], repeating: 0.5)
        let dy = Tensor(shape: [5, 3], repeating: 1)
        _ = model.forward(x, mode: .training); model.backward(dy)
        XCTAssertEqual(model.lastBackwardLayerCount, 5)
        model.setTrainable(false, layers: 0..<2)
        _ = model.forward(x, mode: .training); model.backward(dy)
        XCTAssertEqual(model.lastBackwardLayerCount, 3, "layers 2...4 only")
        model.setTrainable(false, prefix: "features")
        model.zeroGrad()
        _ = model.forward(x, mode: .training); model.backward(dy)
        XCTAssertEqual(model.lastBackwardLayerCount, 1, "head only")
        XCTAssertEqual(model.layer(named: "features.2")!.parameters[0].grad.squaredNorm(), 0)
        XCTAssertNotNil(model.backward(dy, needsInputGradient: true))
        XCTAssertEqual(model.lastBackwardLayerCount, 5)
    }

    func testHeadReplacementKeepsBackboneBitForBit() throws {
        let model = try Sequential(spec: Synthetic.mlp(2, hidden: [16, 8], classes: 2), seed: 1)
        let opt = Adam(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)])
        _ = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 2, batchSize: 32)).fit(Synthetic.twoMoons(200, noise: 0.1, seed: 1))
        let backbone = model.stateDict().filter { !$0.name.hasPrefix("head") }
        try model.replaceHead(dropLast: 1, with: [LayerSpec(.dense, name: "head", units: 5)], seed: 9)
        XCTAssertEqual(model.outputShape, [5])
        XCTAssertEqual(model.layer(named: "head")!.parameters[0].value.shape, [5, 8])
        let after = model.stateDict().filter { !$0.name.hasPrefix("head") }
        XCTAssertEqual(after.map(\.name), backbone.map(\.name))
        XCTAssertEqual(after.map(\.value), backbone.map(\.value))
        // A bad replacement leaves the model as it was.
        XCTAssertThrowsError(try model.replaceHead(dropLast: 1, with: [LayerSpec(.conv2d, name: "x", units: 2)], seed: 1))
        XCTAssertEqual(model.outputShape, [5])
    }

    func testFeatureExtractionMatchesHeadTrainingWithOneBackbonePass() throws {
        let data = Synthetic.twoMoons(300, noise: 0.1, seed: 4)
        let spec = Synthetic.mlp(2, hidden: [32, 16], classes: 2)
        let epochs = 5
        // (a) Full model, backbone frozen.
        let full = try Sequential(spec: spec, seed: 2)
        full.setTrainable(false, prefix: "features")
        let optA = SGD(groups: [ParameterGroup(parameters: full.parameters, learningRate: 0.05)], momentum: 0.9)
        _ = try Trainer(model: full, optimizer: optA, config: TrainingConfig(epochs: epochs, batchSize: 32, seed: 8)).fit(data)
        // (b) Backbone once, head on cached features.
        let fresh = try Sequential(spec: spec, seed: 2)
        let (backbone, head) = try fresh.split(at: 4)
        let features = FeatureExtraction.cache(backbone: backbone, data: data)
        let optB = SGD(groups: [ParameterGroup(parameters: head.parameters, learningRate: 0.05)], momentum: 0.9)
        _ = try Trainer(model: head, optimizer: optB, config: TrainingConfig(epochs: epochs, batchSize: 32, seed: 8)).fit(features)
        XCTAssertEqual(full.layer(named: "head")!.parameters.map(\.value), head.parameters.map(\.value), "same head weights")
        XCTAssertEqual(Inference.accuracy(full, data), Inference.accuracy(fresh, data))
        XCTAssertEqual(backbone.forwardSampleCount, data.count, "backbone ran once")
        XCTAssertGreaterThanOrEqual(full.forwardSampleCount, epochs * data.count, "full model ran the backbone every epoch")
    }

    func testParameterGroupsUseTheirOwnLearningRates() throws {
        let model = try Sequential(spec: Synthetic.mlp(3, hidden: [4], classes: 2), seed: 1)
        let groups = ParameterGroup.byPrefix(model.parameters, rules: [(prefix: "features", learningRate: 0.001, weightDecay: 0)],
                                             defaultLearningRate: 0.1)
        XCTAssertEqual(groups.map { $0.parameters.map(\.name) }, [["features.0.weight", "features.0.bias"], ["head.weight", "head.bias"]])
        let before = model.parameters.map(\.value)
        for p in model.parameters { p.grad = Tensor(shape: p.value.shape, repeating: 1) }
        SGD(groups: groups).step()
        for (p, b) in zip(model.parameters, before) {
            let lr: Float = p.name.hasPrefix("head") ? 0.1 : 0.001
            for i in 0..<p.value.count { XCTAssertEqual(p.value.data[i], b.data[i] - lr, accuracy: 1e-6, p.name) }
        }
    }

    func testL2SPPullsTowardPretrainedWeights() throws {
        let pre = try Sequential(spec: Synthetic.mlp(2, hidden: [16], classes: 2), seed: 1)
        let reference = pre.stateDict()
        func drift(alpha: Float) throws -> Float {
            let m = try Sequential(spec: Synthetic.mlp(2, hidden: [16], classes: 2), seed: 1)
            let opt = SGD(groups: [ParameterGroup(parameters: m.parameters, learningRate: 0.1)])
            let cfg = TrainingConfig(epochs: 5, batchSize: 16, l2sp: alpha > 0 ? L2SP(reference: m.parameters, alpha: alpha) : nil)
            _ = try Trainer(model: m, optimizer: opt, config: cfg).fit(Synthetic.twoMoons(200, noise: 0.1, seed: 3))
            return zip(m.stateDict(), reference).reduce(0) { $0 + ($1.0.value - $1.1.value).squaredNorm() }
        }
        let free = try drift(alpha: 0), held = try drift(alpha: 1)
        XCTAssertLessThan(held, free * 0.7, "L2-SP drift \(held) vs free \(free)")
        // The gradient it adds is exactly α·(w − w⁰).
        let p = Parameter(name: "w", value: Tensor(shape: [2], data: [1, 2]))
        let reg = L2SP(reference: [p], alpha: 0.5)
        p.value = Tensor(shape: [2], data: [3, 1])
        XCTAssertEqual(reg.addGradient(to: [p]), 0.5 * 0.5 * (4 + 1), accuracy: 1e-6)
        XCTAssertEqual(p.grad.data, [1, -0.5])
    }

    func testGradualUnfreezingSchedule() throws {
        let model = try Sequential(spec: Synthetic.mlp(2, hidden: [8, 8], classes: 2), seed: 1)
        let schedule = GradualUnfreezing(blocks: GradualUnfreezing.layerBlocks(of: model), epochsPerBlock: 2)
        XCTAssertEqual(schedule.blocks, ["head", "features.2", "features.0"])
        var history: [Int] = []
        let opt = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.05)])
        let first = model.layer(named: "features.0")!.parameters[0].value
        _ = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 5, batchSize: 32, unfreezing: schedule))
            .fit(Synthetic.twoMoons(100, noise: 0.1, seed: 1)) { history.append($0.trainableParameters) }
        XCTAssertEqual(history, [18, 18, 90, 90, 114])
        XCTAssertNotEqual(model.layer(named: "features.0")!.parameters[0].value, first, "unfrozen at epoch 4 and trained")
    }

    func testEarlyStoppingRestoresBestEpoch() throws {
        let model = try Sequential(spec: Synthetic.mlp(2, hidden: [4], classes: 2), seed: 1)
        var stop = EarlyStopping(patience: 2)
        var snapshots: [[Tensor]] = []
        for (epoch, score) in [Float(0.5), 0.7, 0.6, 0.65].enumerated() {
            for p in model.parameters { p.value.add(Tensor(shape: p.value.shape, repeating: 1)) }
            snapshots.append(model.parameters.map(\.value))
            stop.offer(score: score, epoch: epoch, model: model)
            if stop.shouldStop { break }
        }
        XCTAssertTrue(stop.shouldStop)
        XCTAssertEqual(stop.bestEpoch, 1)
        XCTAssertEqual(snapshots.count, 4)
        try stop.restoreBest(into: model)
        XCTAssertEqual(model.parameters.map(\.value), snapshots[1])
        XCTAssertFalse(stop.offer(score: .nan, epoch: 5, model: model), "NaN never wins")
    }

    func testTrainerEarlyStoppingSelectsBestValidationEpoch() throws {
        let model = try Sequential(spec: Synthetic.mlp(2, hidden: [16], classes: 2), seed: 1)
        let opt = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.5)], momentum: 0.9)
        let trainer = Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 30, batchSize: 16, earlyStoppingPatience: 3))
        let val = Synthetic.twoMoons(200, noise: 0.2, seed: 9)
        let history = try trainer.fit(Synthetic.twoMoons(200, noise: 0.2, seed: 8), validation: val)
        let best = history.epochs.compactMap(\.validationScore).max()!
        XCTAssertEqual(history.epochs[history.selectedEpoch].validationScore, best)
        XCTAssertEqual(Inference.accuracy(model, val), best, accuracy: 1e-6, "model holds the selected epoch's weights")
    }

    func testBadDataAndDivergenceAreClearErrors() throws {
        let model = try Sequential(spec: Synthetic.mlp(2, hidden: [4], classes: 2), seed: 1)
        let opt = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.1)])
        let trainer = Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 1, batchSize: 2))
        func message(_ data: LabelledData) -> String {
            do { _ = try trainer.fit(data); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(LabelledData(inputs: Tensor(shape: [2, 2], data: [1, 0, .nan, 0]), labels: [0, 1])),
                       "training input at row 1, value 0 is nan: inputs must be finite")
        XCTAssertEqual(message(LabelledData(inputs: Tensor(shape: [2, 2]), labels: [0, 2])),
                       "training label 2 at row 1 is outside the model's 2 classes (0..<2)")
        XCTAssertEqual(message(LabelledData(inputs: Tensor(shape: [2, 3]), labels: [0, 1])),
                       "training data has 3 values per sample (shape [3]); the model expects [2]")
        // Divergence is caught at the step where the loss stops being finite.
        let wild = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 1e30)])
        let diverging = Trainer(model: model, optimizer: wild, config: TrainingConfig(epochs: 5, batchSize: 2))
        XCTAssertThrowsError(try diverging.fit(LabelledData(inputs: Tensor(shape: [4, 2], data: [1, 2, 3, 4, -1, -2, -3, -4]), labels: [0, 1, 0, 1]))) {
            XCTAssertTrue("\($0)".contains("loss became"), "\($0)")
        }
    }
}
