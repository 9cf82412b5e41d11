import XCTest
import CohortAdapt
import CohortNN
import CohortTensor

/// The adaptation losses' gradients against central finite differences.
final class AdaptLossGradientTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64, shift: Float = 0, scale: Float = 1) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in shift + scale * rng.normal() })
    }

    /// ‖a − b‖ / (‖a‖ + ‖b‖).
    private func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        var d = 0.0, na = 0.0, nb = 0.0
        for i in 0..<a.count { d += Double((a[i] - b[i]) * (a[i] - b[i])); na += Double(a[i] * a[i]); nb += Double(b[i] * b[i]) }
        return Float(d.squareRoot() / max(na.squareRoot() + nb.squareRoot(), 1e-12))
    }

    private func numeric(_ x: Tensor, h: Float = 1e-2, _ f: (Tensor) -> Float) -> [Float] {
        (0..<x.count).map { i in
            var p = x, m = x
            p.data[i] += h; m.data[i] -= h
            return (f(p) - f(m)) / (2 * h)
        }
    }

    func testCORALGradientAndValue() {
        let s = random([7, 4], seed: 1), t = random([9, 4], seed: 2, shift: 0.5, scale: 2)
        let r = AlignmentLoss.coral(source: s, target: t)
        XCTAssertLessThan(relativeError(r.sourceGradient.data, numeric(s) { AlignmentLoss.coral(source: $0, target: t).value }), 1e-2)
        XCTAssertLessThan(relativeError(r.targetGradient.data, numeric(t) { AlignmentLoss.coral(source: s, target: $0).value }), 1e-2)
        XCTAssertEqual(AlignmentLoss.coral(source: s, target: s).value, 0, accuracy: 1e-7)
        XCTAssertGreaterThan(r.value, 0)
    }

    func testMMDGradientAndValue() {
        let s = random([6, 3], seed: 3), t = random([5, 3], seed: 4, shift: 1)
        let bw: [Float] = [0.5, 1, 2]
        let r = AlignmentLoss.mmd(source: s, target: t, bandwidths: bw)
        XCTAssertLessThan(relativeError(r.sourceGradient.data, numeric(s, h: 1e-3) { AlignmentLoss.mmd(source: $0, target: t, bandwidths: bw).value }), 1e-2)
        XCTAssertLessThan(relativeError(r.targetGradient.data, numeric(t, h: 1e-3) { AlignmentLoss.mmd(source: s, target: $0, bandwidths: bw).value }), 1e-2)
        XCTAssertEqual(AlignmentLoss.mmd(source: s, target: s, bandwidths: bw).value, 0, accuracy: 1e-5, "identical samples")
        let near = AlignmentLoss.mmd(source: s, target: random([5, 3], seed: 5)).value
        let far = AlignmentLoss.mmd(source: s, target: random([5, 3], seed: 5, shift: 3)).value
        XCTAssertGreaterThan(far, near, "shifted target is farther")
    }

    func testEntropyAndInformationMaximizationGradients() {
        let z = random([5, 4], seed: 6, scale: 2)
        let e = PredictionLoss.entropy(logits: z)
        XCTAssertLessThan(relativeError(e.gradient.data, numeric(z) { PredictionLoss.entropy(logits: $0).value }), 1e-2)
        let im = PredictionLoss.informationMaximization(logits: z)
        XCTAssertLessThan(relativeError(im.gradient.data, numeric(z) { PredictionLoss.informationMaximization(logits: $0).value }), 1e-2)
        // Uniform predictions: entropy ln 4; IM = ln 4 − ln 4 = 0.
        let flat = Tensor(shape: [3, 4], repeating: 0)
        XCTAssertEqual(PredictionLoss.entropy(logits: flat).value, logf(4), accuracy: 1e-6)
        XCTAssertEqual(PredictionLoss.informationMaximization(logits: flat).value, 0, accuracy: 1e-6)
    }
}
