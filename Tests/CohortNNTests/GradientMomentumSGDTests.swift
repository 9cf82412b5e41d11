import XCTest
import CohortNN
import CohortTensor

/// `GradientMomentumSGD` keeps the velocity in the gradient buffers: its training must follow
/// `SGD` with the same momentum and weight decay (up to float rounding), start from zero
/// velocity whatever the buffers held, and leave frozen parameters alone.
final class GradientMomentumSGDTests: XCTestCase {
    private func model() throws -> Sequential {
        try Sequential(spec: ModelSpec(inputShape: [4], layers: [
            LayerSpec(.dense, name: "fc", units: 6), LayerSpec(.relu, name: "act"), LayerSpec(.dense, name: "head", units: 3),
        ]), seed: 5)
    }

    private func data() -> LabelledData {
        var rng = SeededRandom(seed: 9)
        return LabelledData(inputs: Tensor(shape: [40, 4], data: (0..<160).map { _ in rng.normal() }), labels: (0..<40).map { $0 % 3 })
    }

    private func train(_ make: ([ParameterGroup]) throws -> Optimizer, freezeHead: Bool = false, staleGradient: Bool = false) throws -> Sequential {
        let m = try model()
        if freezeHead { for p in m.parameters where p.name.hasPrefix("head") { p.isTrainable = false } }
        if staleGradient { for p in m.parameters { p.grad.fill(123) } }
        let optimizer = try make([ParameterGroup(parameters: m.parameters, learningRate: 0.05, weightDecay: 0.01)])
        let trainer = Trainer(model: m, optimizer: optimizer, config: TrainingConfig(epochs: 3, batchSize: 8, seed: 2))
        _ = try trainer.fit(data())
        return m
    }

    func testItFollowsSGDWithMomentumAndWeightDecay() throws {
        let reference = try train { SGD(groups: $0, momentum: 0.9) }
        let fused = try train { try GradientMomentumSGD(groups: $0, momentum: 0.9) }
        let start = try model()
        for ((p, q), s) in zip(zip(reference.parameters, fused.parameters), start.parameters) {
            let moved = zip(p.value.data, s.value.data).map { abs($0 - $1) }.max() ?? 0
            XCTAssertGreaterThan(moved, 1e-3, "\(p.name) trained")
            for (a, b) in zip(p.value.data, q.value.data) { XCTAssertEqual(a, b, accuracy: 1e-5 + 1e-4 * abs(a), p.name) }
        }
        // Without momentum it is plain SGD too.
        let plain = try train { SGD(groups: $0, momentum: 0) }
        let fusedPlain = try train { try GradientMomentumSGD(groups: $0, momentum: 0) }
        for (p, q) in zip(plain.parameters, fusedPlain.parameters) {
            for (a, b) in zip(p.value.data, q.value.data) { XCTAssertEqual(a, b, accuracy: 1e-5 + 1e-4 * abs(a), p.name) }
        }
    }

    func testVelocityStartsAtZeroAndFrozenParametersStay() throws {
        let reference = try train { SGD(groups: $0, momentum: 0.9) }
        let stale = try train({ try GradientMomentumSGD(groups: $0, momentum: 0.9) }, staleGradient: true)
        for (p, q) in zip(reference.parameters, stale.parameters) {
            for (a, b) in zip(p.value.data, q.value.data) { XCTAssertEqual(a, b, accuracy: 1e-5 + 1e-4 * abs(a), p.name) }
        }
        let frozen = try train({ try GradientMomentumSGD(groups: $0, momentum: 0.9) }, freezeHead: true)
        let start = try model()
        for (p, s) in zip(frozen.parameters, start.parameters) where p.name.hasPrefix("head") {
            XCTAssertEqual(p.value.data.map(\.bitPattern), s.value.data.map(\.bitPattern), p.name)
        }
        XCTAssertThrowsError(try GradientMomentumSGD(groups: [], momentum: 1)) { XCTAssertTrue($0 is TrainingError) }
    }

    /// The velocity scaled as `step` writes it is the same arithmetic as scaling it in the next
    /// `zeroGrad` (the unfused order below): the weights agree bit for bit, over epochs and
    /// with a frozen head.
    func testScalingTheVelocityInStepChangesNoBit() throws {
        for freezeHead in [false, true] {
            let fused = try train({ try GradientMomentumSGD(groups: $0, momentum: 0.9) }, freezeHead: freezeHead)
            let unfused = try train({ UnfusedGradientMomentum(groups: $0, momentum: 0.9) }, freezeHead: freezeHead)
            for (p, q) in zip(fused.parameters, unfused.parameters) {
                XCTAssertEqual(p.value.data.map(\.bitPattern), q.value.data.map(\.bitPattern), "\(p.name), frozen head \(freezeHead)")
            }
        }
    }
}

/// `GradientMomentumSGD` as it was before `step` scaled the velocity: `zeroGrad` scales it.
private final class UnfusedGradientMomentum: Optimizer {
    var groups: [ParameterGroup]
    let momentum: Float
    private var started = false
    init(groups: [ParameterGroup], momentum: Float) { self.groups = groups; self.momentum = momentum }

    func zeroGrad() {
        for group in groups {
            for p in group.parameters {
                guard started && p.isUpdated else { p.zeroGrad(); continue }
                for i in 0..<p.grad.count { p.grad.data[i] *= momentum }
            }
        }
        started = true
    }

    func step(learningRateScale: Float) {
        forEachTrainable(learningRateScale: learningRateScale) { p, lr, wd in
            for i in 0..<p.value.count {
                let vi = p.grad.data[i] + wd * p.value.data[i]
                p.grad.data[i] = vi
                p.value.data[i] -= lr * vi
            }
        }
    }
}
