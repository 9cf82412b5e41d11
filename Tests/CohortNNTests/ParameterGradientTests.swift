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
}
