import XCTest
import CohortNN
import CohortTensor

/// The gradient is allocated on first use; it must behave as the eagerly made zero tensor did.
final class ParameterGradientTests: XCTestCase {
    func testGradientStartsAsZerosOfTheValuesShapeAndAccumulates() {
        let p = Parameter(name: "w", value: Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]))
        XCTAssertEqual(p.grad, Tensor(shape: [2, 3], repeating: 0))
        p.grad.data[4] += 2.5
        XCTAssertEqual(p.grad.data, [0, 0, 0, 0, 2.5, 0])
        p.zeroGrad()
        XCTAssertEqual(p.grad, Tensor(shape: [2, 3], repeating: 0))
    }

    func testTrainingStepOnAFreshModelUsesTheGradients() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [3], layers: [LayerSpec(.dense, name: "fc", units: 2)]), seed: 4)
        let before = model.stateDict().map(\.value)
        let x = Tensor(shape: [4, 3], data: (0..<12).map { Float($0) * 0.1 })
        let y = model.forward(x, mode: .training)
        _ = model.backward(Tensor(shape: y.shape, repeating: 1))
        let fc = try XCTUnwrap(model.parameters.first { $0.name == "fc.weight" })
        XCTAssertEqual(fc.grad.shape, [2, 3])
        // dL/dW[j, k] = Σ_n x[n, k] for an all-ones upstream gradient.
        for k in 0..<3 { XCTAssertEqual(fc.grad.data[k], (0..<4).map { Float($0 * 3 + k) * 0.1 }.reduce(0, +), accuracy: 1e-5) }
        XCTAssertEqual(model.stateDict().map(\.value), before, "backward does not change the weights")
    }

    /// Issue 19: a gradient is written where it lies. A backward pass (a GEMM into `&grad.data`),
    /// momentum-SGD's `zeroGrad` and its step never copy the buffer, which the old `lazy var`
    /// did at every write (a second gradient-sized buffer each time).
    func testBackwardAndOptimizerWriteTheGradientInPlace() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [20], layers: [LayerSpec(.dense, name: "fc", units: 30),
                                                                                LayerSpec(.dense, name: "head", units: 3)]), seed: 4)
        let optimizer = try GradientMomentumSGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.1)], momentum: 0.9)
        let fc = try XCTUnwrap(model.parameters.first { $0.name == "fc.weight" })
        optimizer.zeroGrad()
        let address = fc.grad.data.withUnsafeBufferPointer { $0.baseAddress }
        var rng = SeededRandom(seed: 2)
        let x = Tensor(shape: [8, 20], data: (0..<160).map { _ in rng.normal() })
        for _ in 0..<2 {
            let y = model.forward(x, mode: .training)
            _ = model.backward(Tensor(shape: y.shape, repeating: 1))
            XCTAssertEqual(fc.grad.data.withUnsafeBufferPointer { $0.baseAddress }, address, "backward wrote a copy")
            XCTAssertTrue(fc.grad.data.contains { $0 != 0 })
            optimizer.step(learningRateScale: 1)
            XCTAssertEqual(fc.grad.data.withUnsafeBufferPointer { $0.baseAddress }, address, "the step wrote a copy")
            optimizer.zeroGrad()
            XCTAssertEqual(fc.grad.data.withUnsafeBufferPointer { $0.baseAddress }, address, "zeroGrad wrote a copy")
        }
        // A gradient handed out and then written through the parameter: the caller's copy is left alone.
        let held = fc.grad
        fc.grad.data[0] += 1
        XCTAssertEqual(held.data[0] + 1, fc.grad.data[0])
    }

    /// Zeroing the gradient of a parameter that never had one (a frozen weight, which every
    /// optimizer's zeroGrad visits) allocates nothing, and it still reads as zeros.
    func testZeroingAnUnusedGradientAllocatesNothing() throws {
        let p = Parameter(name: "w", value: Tensor(shape: [3], data: [1, 2, 3]))
        p.zeroGrad()
        XCTAssertFalse(p.hasGradientStorage)
        let optimizer = try GradientMomentumSGD(groups: [ParameterGroup(parameters: [p], learningRate: 0.1)], momentum: 0.9)
        p.isTrainable = false
        optimizer.zeroGrad()
        optimizer.step(learningRateScale: 1)
        XCTAssertFalse(p.hasGradientStorage, "a frozen parameter gets no gradient buffer")
        XCTAssertEqual(p.grad, Tensor(shape: [3]))
        XCTAssertTrue(p.hasGradientStorage)
        p.grad.data[1] = 4
        p.zeroGrad()
        XCTAssertEqual(p.grad, Tensor(shape: [3]))
    }

    /// `zeroGrad` marks the gradient as zeros without writing it: a dense layer's next backward
    /// writes its weight gradient whole (a GEMM that does not read the stale buffer, here NaN),
    /// the one after adds to it, and a read after `zeroGrad` sees zeros.
    func testAZeroedGradientIsOverwrittenByTheNextBackwardThenAccumulated() throws {
        func model() throws -> Sequential { try Sequential(spec: ModelSpec(inputShape: [5], layers: [LayerSpec(.dense, name: "fc", units: 4)]), seed: 3) }
        var rng = SeededRandom(seed: 8)
        let x = Tensor(shape: [6, 5], data: (0..<30).map { _ in rng.normal() })
        let dy = Tensor(shape: [6, 4], data: (0..<24).map { _ in rng.normal() })
        let fresh = try model(), reused = try model()
        _ = fresh.forward(x, mode: .training)
        _ = fresh.backward(dy)
        let expected = try XCTUnwrap(fresh.parameters.first { $0.name == "fc.weight" }).grad.data
        let w = try XCTUnwrap(reused.parameters.first { $0.name == "fc.weight" })
        w.grad.fill(.nan)
        w.zeroGrad()
        _ = reused.forward(x, mode: .training)
        _ = reused.backward(dy)
        XCTAssertEqual(w.grad.data, expected)
        _ = reused.forward(x, mode: .training)
        _ = reused.backward(dy)
        XCTAssertEqual(w.grad.data, expected.map { $0 + $0 }, "a second pass adds")
        w.zeroGrad()
        XCTAssertEqual(w.grad, Tensor(shape: [4, 5]))
    }
}
