import XCTest
import CohortAdapt
import CohortNN
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// `TargetAdaptation`: what each method may change, its checks, the guard, the prototype head.
final class TargetAdaptationTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [2], layers: [
        LayerSpec(.dense, name: "features.0", units: 16), LayerSpec(.batchnorm1d, name: "features.1"),
        LayerSpec(.relu, name: "features.2"), LayerSpec(.dense, name: "head", units: 3),
    ])

    /// A model trained on the unshifted blobs, and a shifted target.
    private func trained() throws -> Sequential {
        let model = try Sequential(spec: spec, seed: 3)
        let opt = Adam(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)])
        _ = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 20, batchSize: 32)).fit(SyntheticDomains.blobs(600, seed: 1))
        return model
    }

    private var target: LabelledData { SyntheticDomains.blobs(300, seed: 2, angle: 0.4, offset: 1.5) }
    private var empty: LabelledData { LabelledData(inputs: Tensor(shape: [0, 2]), labels: []) }

    private func changed(_ method: AdaptationMethod, source: LabelledData? = nil) throws -> (Set<String>, AdaptationSummary, Sequential, Sequential) {
        let model = try trained()
        let before = try model.copy()
        var settings = TargetAdaptation.Settings()
        settings.epochs = 2
        let outcome = try TargetAdaptation.run(model, method: method, target: target.inputs, support: target, validation: target,
                                               source: source, settings: settings)
        let old = Dictionary(uniqueKeysWithValues: before.stateDict().map { ($0.name, $0.value.data) })
        let diff = Set(outcome.model.stateDict().filter { old[$0.name] != $0.value.data }.map(\.name))
        XCTAssertEqual(diff, Set(outcome.summary.changedTensors), "\(method): the summary lists exactly the changed tensors")
        return (diff, outcome.summary, outcome.model, before)
    }

    func testEachMethodChangesOnlyWhatItMay() throws {
        let stats: Set = ["features.1.running_mean", "features.1.running_var"]
        let affine: Set = ["features.1.weight", "features.1.bias"]
        let (adabn, summary, _, _) = try changed(.adabn)
        XCTAssertEqual(adabn, stats)
        XCTAssertEqual(summary.epochs, 0)
        XCTAssertNotNil(summary.accuracyBefore)
        let (tent, _, _, _) = try changed(.tent)
        XCTAssertEqual(tent, stats.union(affine))
        let (shot, _, _, _) = try changed(.shot)
        XCTAssertFalse(shot.contains { $0.hasPrefix("head") }, "SHOT freezes the head: \(shot)")
        XCTAssertTrue(shot.contains("features.0.weight"), "\(shot)")
        let source = SyntheticDomains.blobs(200, seed: 5)
        for method in [AdaptationMethod.dann, .coral, .mmd] {
            let (d, s, _, _) = try changed(method, source: source)
            XCTAssertTrue(d.contains("head.weight") && d.contains("features.0.weight"), "\(method): \(d)")
            XCTAssertEqual(s.sourceRows, 200)
            XCTAssertEqual(s.lossHistory.count, 2)
        }
        let (proto, _, _, _) = try changed(.prototypes)
        XCTAssertEqual(proto, ["head.weight", "head.bias"])
    }

    func testPrototypeHeadPredictsExactlyLikeTheEuclideanPrototypeClassifier() throws {
        let model = try trained()
        let support = target.subset(Array(0..<30))
        XCTAssertEqual(try PrototypeHead.install(into: model, support: support), [10, 10, 10])
        let backbone = try model.split(at: model.layers.count - 1).backbone
        let classifier = PrototypeClassifier(features: Inference.outputs(backbone, support.inputs), labels: support.labels, classes: 3, metric: .euclidean)
        let features = Inference.outputs(backbone, target.inputs)
        let expected = classifier.scores(features).softmaxRows(), got = Inference.probabilities(model, target.inputs)
        XCTAssertEqual(classifier.predict(features), Inference.outputs(model, target.inputs).argmaxRows())
        for (a, b) in zip(expected.data, got.data) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testChecksNameWhatIsWrong() throws {
        let model = try trained()
        func fails(_ method: AdaptationMethod, target t: Tensor? = nil, support s: LabelledData? = nil, source: LabelledData? = nil,
                   settings: TargetAdaptation.Settings = TargetAdaptation.Settings(), expect text: String) {
            XCTAssertThrowsError(try TargetAdaptation.run(model, method: method, target: t ?? target.inputs, support: s ?? empty,
                                                          validation: empty, source: source, settings: settings)) {
                XCTAssertTrue("\($0)".contains(text), "\(method): \($0)")
            }
        }
        fails(.dann, expect: "needs labelled source data")
        fails(.coral, source: LabelledData(inputs: Tensor(shape: [4, 3]), labels: [0, 1, 2, 0]), expect: "source data has 3 values per sample")
        fails(.adabn, target: Tensor(shape: [10, 5]), expect: "the model expects input [2]")
        fails(.prototypes, expect: "needs labelled target rows")
        fails(.prototypes, support: LabelledData(inputs: Tensor(shape: [2, 2]), labels: [0, 1]), expect: "class 2 has none")
        fails(.tent, support: LabelledData(inputs: Tensor(shape: [1, 2]), labels: [7]), expect: "label 7")
        var settings = TargetAdaptation.Settings()
        settings.headLayers = 4
        fails(.shot, settings: settings, expect: "headLayers must be in 1..<4")
        settings = TargetAdaptation.Settings()
        settings.negativeTransferGuard = true
        fails(.adabn, settings: settings, expect: "guard needs labelled target rows")
    }

    func testGuardKeepsAModelAtLeastAsGoodAsIncomingAndScratchOnValidation() throws {
        // An incoming model from an unrelated task (labels permuted) adapted with AdaBN cannot be
        // fixed without labels; the guard must then keep the scratch model.
        let model = try Sequential(spec: spec, seed: 4)
        let permuted = SyntheticDomains.blobs(600, seed: 1)
        let wrong = LabelledData(inputs: permuted.inputs, labels: permuted.labels.map { ($0 + 1) % 3 })
        let opt = Adam(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)])
        _ = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 20, batchSize: 32)).fit(wrong)
        let site = target, validation = SyntheticDomains.blobs(150, seed: 9, angle: 0.4, offset: 1.5)
        var settings = TargetAdaptation.Settings()
        settings.negativeTransferGuard = true
        let outcome = try TargetAdaptation.run(model, method: .adabn, target: site.inputs, support: site, validation: validation,
                                               source: nil, settings: settings)
        let report = try XCTUnwrap(outcome.summary.guardReport)
        XCTAssertEqual(report.winner, .scratch, "\(report)")
        let kept = Inference.accuracy(outcome.model, validation)
        XCTAssertGreaterThanOrEqual(kept, max(report.incomingScore, report.scratchScore) - 1e-6, "\(report)")
        XCTAssertEqual(outcome.model.spec, ScratchModel.spec(inputShape: [2], classes: 3))
        XCTAssertLessThan(report.incomingScore, 0.5, "\(report)")
    }

    func testPredictionStatistics() throws {
        // A zero head gives uniform predictions: entropy log 3, confidence 1/3, every row class 0.
        let model = try Sequential(spec: spec, seed: 1)
        (model.layers[3] as! Dense).weight.value.fill(0)
        (model.layers[3] as! Dense).bias!.value.fill(0)
        let s = PredictionStatistics(model: model, inputs: target.inputs)
        XCTAssertEqual(s.meanEntropy, log(3), accuracy: 1e-5)
        XCTAssertEqual(s.meanConfidence, 1.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(s.predictedFractions, [1, 0, 0])
        XCTAssertEqual(s.rows, 300)
    }

    func testLogMERankingPrefersTrainedFeaturesAndPoolsFeatureMaps() throws {
        let ring = ModelSpec(inputShape: [4], layers: [
            LayerSpec(.dense, name: "features.0", units: 24), LayerSpec(.batchnorm1d, name: "features.1"),
            LayerSpec(.relu, name: "features.2"), LayerSpec(.dense, name: "head", units: 3),
        ])
        let good = try Sequential(spec: ring, seed: 1), poor = try Sequential(spec: ring, seed: 99)
        let opt = SGD(groups: [ParameterGroup(parameters: good.parameters, learningRate: 0.05)], momentum: 0.9)
        _ = try Trainer(model: good, optimizer: opt, config: TrainingConfig(epochs: 25, batchSize: 32)).fit(SyntheticDomains.sectors(450, seed: 1))
        let data = SyntheticDomains.sectors(300, seed: 7)
        let rows = try TransferabilityRanking.rank(models: [("poor", poor), ("good", good)], data: [("site", data, 3)])
        XCTAssertEqual(rows.map(\.model), ["good", "poor"], "\(rows)")
        XCTAssertEqual(rows[0].cut, 3)
        XCTAssertEqual(rows[0].layer, "features.2")
        XCTAssertGreaterThan(rows[0].mean, rows[1].mean + 0.05, "\(rows)")
        // A [2, 2, 3] feature map is averaged over its 4 positions.
        let conv = try Sequential(spec: ModelSpec(inputShape: [2, 2, 1], layers: [LayerSpec(.conv2d, name: "c", units: 3, kernel: 1)]), seed: 1)
        let x = Tensor(shape: [1, 2, 2, 1], data: [1, 2, 3, 4])
        let pooled = try TransferabilityRanking.features(conv, inputs: x, cut: 1)
        let full = Inference.outputs(conv, x)
        XCTAssertEqual(pooled.shape, [1, 3])
        for j in 0..<3 { XCTAssertEqual(pooled.data[j], (0..<4).map { full.data[$0 * 3 + j] }.reduce(0, +) / 4, accuracy: 1e-6) }
        XCTAssertThrowsError(try TransferabilityRanking.features(conv, inputs: x, cut: 2)) { XCTAssertTrue("\($0)".contains("cut 2")) }
    }
}
