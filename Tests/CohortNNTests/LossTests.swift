import XCTest
import CohortNN
import CohortTensor

final class LossTests: XCTestCase {
    private func numericGradient(_ x: Tensor, _ f: (Tensor) -> Float) -> [Float] {
        (0..<x.count).map { i in
            var xp = x, xm = x
            let h: Float = 1e-2
            xp.data[i] += h; xm.data[i] -= h
            return (f(xp) - f(xm)) / (2 * h)
        }
    }

    private func logits(_ n: Int, _ c: Int, seed: UInt64 = 1) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor(shape: [n, c], data: (0..<(n * c)).map { _ in 2 * rng.normal() })
    }

    func testCrossEntropyGradientWithWeightsAndSmoothing() {
        let z = logits(5, 4)
        let y = [0, 3, 1, 1, 2]
        for (w, eps) in [(nil, Float(0)), ([1, 2, 0.5, 3] as [Float]?, Float(0)), (nil, Float(0.1)), ([1, 2, 0.5, 3], Float(0.2))] {
            let r = Loss.softmaxCrossEntropy(logits: z, labels: y, classWeights: w, labelSmoothing: eps)
            let num = numericGradient(z) { Loss.softmaxCrossEntropy(logits: $0, labels: y, classWeights: w, labelSmoothing: eps).value }
            XCTAssertLessThan(GradientCheck.relativeError(r.gradient.data, num), 1e-2, "weights \(String(describing: w)) eps \(eps)")
        }
    }

    func testCrossEntropyKnownValue() {
        // Two equal logits: loss = ln 2. With smoothing 0.2 over 2 classes the target is
        // (0.9, 0.1) and the loss is still ln 2 since both log-probabilities are −ln 2.
        let z = Tensor(shape: [1, 2], data: [3, 3])
        XCTAssertEqual(Loss.softmaxCrossEntropy(logits: z, labels: [0]).value, logf(2), accuracy: 1e-6)
        XCTAssertEqual(Loss.softmaxCrossEntropy(logits: z, labels: [0], labelSmoothing: 0.2).value, logf(2), accuracy: 1e-6)
        // Class weights give a weighted mean: rows with loss ln2 (w=1) and ~0 (w=3).
        let z2 = Tensor(shape: [2, 2], data: [0, 0, 50, 0])
        XCTAssertEqual(Loss.softmaxCrossEntropy(logits: z2, labels: [0, 0], classWeights: [3, 1]).value, 3 * logf(2) / 6, accuracy: 1e-5)
    }

    func testBinaryCrossEntropyGradientAndStability() {
        let z = logits(6, 1, seed: 2)
        let t = Tensor(shape: [6, 1], data: [0, 1, 1, 0, 0.3, 1])
        for pw in [Float(1), 2.5] {
            let r = Loss.binaryCrossEntropyWithLogits(logits: z, targets: t, positiveWeight: pw)
            let num = numericGradient(z) { Loss.binaryCrossEntropyWithLogits(logits: $0, targets: t, positiveWeight: pw).value }
            XCTAssertLessThan(GradientCheck.relativeError(r.gradient.data, num), 1e-2)
        }
        let big = Loss.binaryCrossEntropyWithLogits(logits: Tensor(shape: [2], data: [200, -200]), targets: Tensor(shape: [2], data: [0, 1]))
        XCTAssertEqual(big.value, 200, accuracy: 1e-3)
        XCTAssertTrue(big.gradient.isFinite)
    }

    func testMeanSquaredError() {
        let o = logits(3, 2, seed: 3), t = logits(3, 2, seed: 4)
        let r = Loss.meanSquaredError(output: o, target: t)
        let num = numericGradient(o) { Loss.meanSquaredError(output: $0, target: t).value }
        XCTAssertLessThan(GradientCheck.relativeError(r.gradient.data, num), 1e-2)
        XCTAssertEqual(Loss.meanSquaredError(output: Tensor(shape: [2], data: [1, 3]), target: Tensor(shape: [2], data: [0, 0])).value, 5)
    }
}
