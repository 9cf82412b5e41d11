import XCTest
import CohortNN
import CohortTensor

final class OptimizerTests: XCTestCase {
    private func param(_ values: [Float], grad: [Float]) -> Parameter {
        let p = Parameter(name: "p", value: Tensor(shape: [values.count], data: values))
        p.grad = Tensor(shape: [grad.count], data: grad)
        return p
    }

    func testSGDMomentumAndNesterovMatchHandComputedSteps() {
        // Plain momentum 0.9, lr 0.1, g = 1 twice: v1 = 1, w1 = -0.1; v2 = 1.9, w2 = -0.29.
        let p = param([0], grad: [1])
        let sgd = SGD(groups: [ParameterGroup(parameters: [p], learningRate: 0.1)], momentum: 0.9)
        sgd.step(); sgd.step()
        XCTAssertEqual(p.value.data[0], -0.29, accuracy: 1e-6)
        // Nesterov: step uses g + μ·v: 1 + 0.9 = 1.9 → -0.19; then v2 = 1.9, 1 + 1.71 = 2.71 → -0.461.
        let q = param([0], grad: [1])
        let nag = SGD(groups: [ParameterGroup(parameters: [q], learningRate: 0.1)], momentum: 0.9, nesterov: true)
        nag.step()
        XCTAssertEqual(q.value.data[0], -0.19, accuracy: 1e-6)
        nag.step()
        XCTAssertEqual(q.value.data[0], -0.461, accuracy: 1e-6)
        // Weight decay adds λw to the gradient: w = 2, g = 0, λ = 0.5, lr 0.1 → 1.9.
        let r = param([2], grad: [0])
        SGD(groups: [ParameterGroup(parameters: [r], learningRate: 0.1, weightDecay: 0.5)]).step()
        XCTAssertEqual(r.value.data[0], 1.9, accuracy: 1e-6)
        // More than one SIMD width of elements takes the vector path.
        let big = param((0..<19).map(Float.init), grad: [Float](repeating: 2, count: 19))
        SGD(groups: [ParameterGroup(parameters: [big], learningRate: 0.5)], momentum: 0.5).step()
        XCTAssertEqual(big.value.data, (0..<19).map { Float($0) - 1 })
    }

    func testAdamFirstStepIsLearningRateTimesSignAndAdamWDecouplesDecay() {
        let p = param([1, 1], grad: [3, -0.001])
        Adam(groups: [ParameterGroup(parameters: [p], learningRate: 0.01)]).step()
        XCTAssertEqual(p.value.data[0], 0.99, accuracy: 1e-5)
        XCTAssertEqual(p.value.data[1], 1.01, accuracy: 1e-4)
        // AdamW with zero gradient: only the decoupled decay acts: w·(1 − lr·λ).
        let q = param([2], grad: [0])
        Adam.adamW(groups: [ParameterGroup(parameters: [q], learningRate: 0.1, weightDecay: 0.5)]).step()
        XCTAssertEqual(q.value.data[0], 2 * (1 - 0.05), accuracy: 1e-6)
        // Adam's L2 decay goes through the adaptive step instead: first step is lr·sign(λw).
        let r = param([2], grad: [0])
        Adam(groups: [ParameterGroup(parameters: [r], learningRate: 0.1, weightDecay: 0.5)]).step()
        XCTAssertEqual(r.value.data[0], 1.9, accuracy: 1e-5)
    }

    func testFrozenParametersAreSkippedByEveryOptimizer() {
        for make in [{ (g: [ParameterGroup]) -> Optimizer in SGD(groups: g, momentum: 0.9) },
                     { Adam(groups: $0) }, { Adam.adamW(groups: $0) }] {
            let p = param([1, 2], grad: [1, 1])
            p.isTrainable = false
            make([ParameterGroup(parameters: [p], learningRate: 0.1, weightDecay: 0.1)]).step()
            XCTAssertEqual(p.value.data, [1, 2])
        }
    }

    func testLearningRateSchedules() {
        XCTAssertEqual(LearningRateSchedule.step(every: 10, gamma: 0.5).factor(at: 25), 0.25)
        let cosine = LearningRateSchedule.cosine(total: 100, floor: 0.1)
        XCTAssertEqual(cosine.factor(at: 0), 1, accuracy: 1e-6)
        XCTAssertEqual(cosine.factor(at: 50), 0.55, accuracy: 1e-5)
        XCTAssertEqual(cosine.factor(at: 100), 0.1)
        let warm = LearningRateSchedule.warmup(steps: 4, then: .step(every: 2, gamma: 0.1))
        XCTAssertEqual((0..<8).map { warm.factor(at: $0) }, [0.2, 0.4, 0.6, 0.8, 1, 1, 0.1, 0.1].map { Float($0) }.enumerated().map { i, v in i < 6 ? v : Float(0.1) })
    }
}
