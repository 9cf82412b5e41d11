import XCTest
import CohortAdapt
import CohortNN
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif
import Foundation

final class DomainTrainingTests: XCTestCase {
    /// Two moons rotated by `angle` radians about their centre (the classic DANN toy shift).
    private func moons(_ n: Int, seed: UInt64, angle: Float = 0) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        var x: [Float] = [], y: [Int] = []
        for i in 0..<n {
            let t = Float.pi * rng.uniform()
            let (a, b): (Float, Float) = i % 2 == 0 ? (cosf(t), sinf(t)) : (1 - cosf(t), 0.5 - sinf(t))
            let u = a + 0.1 * rng.normal() - 0.5, v = b + 0.1 * rng.normal() - 0.25
            x += [cosf(angle) * u - sinf(angle) * v, sinf(angle) * u + cosf(angle) * v]
            y.append(i % 2)
        }
        return LabelledData(inputs: Tensor(shape: [n, 2], data: x), labels: y)
    }

    private func blobs(_ n: Int, seed: UInt64, angle: Float = 0, offset: Float = 0) -> LabelledData {
        SyntheticDomains.blobs(n, seed: seed, angle: angle, offset: offset)
    }

    private func networks(classes: Int, seed: UInt64) throws -> (Sequential, Sequential, Sequential) {
        let features = try Sequential(spec: ModelSpec(inputShape: [2], layers: [
            LayerSpec(.dense, name: "features.0", units: 32), LayerSpec(.relu, name: "features.1"),
            LayerSpec(.dense, name: "features.2", units: 16), LayerSpec(.relu, name: "features.3"),
        ]), seed: seed)
        let head = try Sequential(spec: ModelSpec(inputShape: [16], layers: [LayerSpec(.dense, name: "head", units: classes)]), seed: seed)
        let domain = try Sequential(spec: ModelSpec(inputShape: [16], layers: [
            LayerSpec(.gradientreversal, name: "domain.grl"), LayerSpec(.dense, name: "domain.0", units: 16),
            LayerSpec(.relu, name: "domain.1"), LayerSpec(.dense, name: "domain.2", units: 2),
        ]), seed: seed)
        return (features, head, domain)
    }

    private func targetAccuracy(_ features: Sequential, _ head: Sequential, _ data: LabelledData) -> Float {
        Inference.accuracy(Sequential(inputShape: [2], layers: features.layers + head.layers), data)
    }

    private func config(weight: Float) -> DomainTrainingConfig {
        var config = DomainTrainingConfig()
        config.epochs = 40
        config.learningRate = 5e-3
        config.weight = weight
        return config
    }

    /// Source-only baseline with the same initial weights and batch order: the shared loop with
    /// a zero domain weight.
    private func sourceOnly(_ source: LabelledData, _ target: LabelledData, _ test: LabelledData, classes: Int, seed: UInt64) throws -> Float {
        let (f, h, _) = try networks(classes: classes, seed: seed)
        try AlignmentTraining.train(features: f, head: h, source: source, target: target.inputs, method: .coral, config: config(weight: 0))
        return targetAccuracy(f, h, test)
    }

    /// Moons rotated by 45°. Measured (seed 7, target test accuracy): source-only 0.535,
    /// DANN 0.862 (seeds 8, 9: 0.592 → 0.915, 0.562 → 0.907). Deep CORAL does not help on this
    /// shift (0.52 at weight 3).
    func testDANNRaisesTargetAccuracyOnRotatedMoons() throws {
        let source = moons(600, seed: 1), target = moons(600, seed: 2, angle: 0.79), test = moons(600, seed: 3, angle: 0.79)
        let baseline = try sourceOnly(source, target, test, classes: 2, seed: 7)
        let (f, h, d) = try networks(classes: 2, seed: 7)
        let history = try DANN.train(features: f, head: h, domainClassifier: d, source: source, target: target.inputs, config: config(weight: 1))
        let adapted = targetAccuracy(f, h, test)
        XCTAssertGreaterThan(adapted, baseline + 0.2, "DANN \(adapted) vs source-only \(baseline)")
        XCTAssertGreaterThan(history.last!.sourceAccuracy, 0.95, "still fits the source")
        let lambdas = history.compactMap(\.lambda)
        XCTAssertEqual(lambdas.count, 40)
        XCTAssertEqual(lambdas, lambdas.sorted(), "λ only grows")
        XCTAssertEqual((d.layers[0] as! GradientReversal).lambda, lambdas.last!)
    }

    /// Three blobs rotated by 0.9 rad and shifted by 0.8. Measured (seed 7): source-only 0.550,
    /// DANN 0.768, DANN with one BCE logit 0.760, Deep CORAL (weight 30) 0.678 (seeds 8, 9:
    /// CORAL 0.553 → 0.687, 0.542 → 0.648; DANN 0.792, 0.688).
    func testDANNAndCORALRaiseTargetAccuracyOnShiftedBlobs() throws {
        let source = blobs(600, seed: 1), shift = (angle: Float(0.9), offset: Float(0.8))
        let target = blobs(600, seed: 2, angle: shift.angle, offset: shift.offset), test = blobs(600, seed: 3, angle: shift.angle, offset: shift.offset)
        let baseline = try sourceOnly(source, target, test, classes: 3, seed: 7)

        var (f, h, d) = try networks(classes: 3, seed: 7)
        try DANN.train(features: f, head: h, domainClassifier: d, source: source, target: target.inputs, config: config(weight: 1))
        let dann = targetAccuracy(f, h, test)

        (f, h, _) = try networks(classes: 3, seed: 7)
        let bce = try Sequential(spec: ModelSpec(inputShape: [16], layers: [
            LayerSpec(.gradientreversal, name: "domain.grl"), LayerSpec(.dense, name: "domain.0", units: 16),
            LayerSpec(.relu, name: "domain.1"), LayerSpec(.dense, name: "domain.2", units: 1)]), seed: 7)
        try DANN.train(features: f, head: h, domainClassifier: bce, source: source, target: target.inputs, config: config(weight: 1))
        let dannBCE = targetAccuracy(f, h, test)

        (f, h, _) = try networks(classes: 3, seed: 7)
        try AlignmentTraining.train(features: f, head: h, source: source, target: target.inputs, method: .coral, config: config(weight: 30))
        let coral = targetAccuracy(f, h, test)

        XCTAssertGreaterThan(dann, baseline + 0.1, "DANN \(dann) vs source-only \(baseline)")
        XCTAssertGreaterThan(dannBCE, baseline + 0.1, "DANN (BCE) \(dannBCE) vs source-only \(baseline)")
        XCTAssertGreaterThan(coral, baseline + 0.06, "CORAL \(coral) vs source-only \(baseline)")
    }

    /// MMD training aligns the features (feature MMD on held-out target, fixed bandwidths, seed 7:
    /// 0.274 source-only → 0.052) but on these toys that did not reliably raise target
    /// accuracy (0.550 → 0.427 at seed 7, 0.553 → 0.718 at seed 8): the marginals can be matched
    /// with classes swapped. Only the alignment is asserted.
    func testMMDTrainingShrinksFeatureMMD() throws {
        let source = blobs(600, seed: 1), target = blobs(600, seed: 2, angle: 0.9, offset: 0.8), test = blobs(600, seed: 3, angle: 0.9, offset: 0.8)
        func featureMMD(_ f: Sequential) -> Float {
            AlignmentLoss.mmd(source: Inference.outputs(f, source.inputs), target: Inference.outputs(f, test.inputs), bandwidths: [0.5, 1, 2, 4]).value
        }
        var (f, h, _) = try networks(classes: 3, seed: 7)
        try AlignmentTraining.train(features: f, head: h, source: source, target: target.inputs, method: .mmd, config: config(weight: 0))
        let before = featureMMD(f)
        (f, h, _) = try networks(classes: 3, seed: 7)
        let history = try AlignmentTraining.train(features: f, head: h, source: source, target: target.inputs, method: .mmd, config: config(weight: 0.3))
        let after = featureMMD(f)
        XCTAssertLessThan(after, before / 2, "feature MMD \(after) vs source-only \(before)")
        XCTAssertTrue(history.allSatisfy { $0.lambda == nil && $0.domainLoss.isFinite })
    }

    func testLambdaScheduleAndInputChecks() throws {
        XCTAssertEqual(DANN.lambda(progress: 0), 0)
        XCTAssertEqual(DANN.lambda(progress: 1), 2 / (1 + expf(-10)) - 1, accuracy: 1e-6)
        XCTAssertEqual(DANN.lambda(progress: 0.5), 2 / (1 + expf(-5)) - 1, accuracy: 1e-6)
        let (f, h, _) = try networks(classes: 2, seed: 1)
        let noReversal = try Sequential(spec: ModelSpec(inputShape: [16], layers: [LayerSpec(.dense, name: "d", units: 2)]), seed: 1)
        let data = moons(20, seed: 1)
        XCTAssertThrowsError(try DANN.train(features: f, head: h, domainClassifier: noReversal, source: data, target: data.inputs)) {
            XCTAssertTrue("\($0)".contains("gradientreversal"), "\($0)")
        }
        XCTAssertThrowsError(try AlignmentTraining.train(features: f, head: h, source: data, target: Tensor(shape: [5, 3]), method: .coral)) {
            XCTAssertTrue("\($0)".contains("target needs"), "\($0)")
        }
    }
}
