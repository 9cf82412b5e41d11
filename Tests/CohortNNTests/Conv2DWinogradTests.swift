import XCTest
import CohortNN
import CohortTensor

/// Conv2D's Winograd path against its im2col path on the same weights, in every mode, and its
/// gradients against finite differences.
///
/// Bound: both paths compute the same sums in float32, in different orders and (Winograd)
/// through ±1 and ½ transforms, so they differ by rounding only: a few ulps times
/// Σ|w·x| ≈ the output scale for N(0, 1) data. 1e-5 norm-wise relative is loose for that and
/// far below what a wrong tile, edge cell or transform entry gives (order 1e-1).
final class Conv2DWinogradTests: XCTestCase {
    static let bound: Float = 1e-5

    private func makeConv(_ spec: LayerSpec, channels: Int) throws -> Conv2D {
        var rng = SeededRandom(seed: 17)
        return try Conv2D(spec: spec, inChannels: channels, rng: &rng)
    }

    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() })
    }

    /// (height, width, in, out, padding, bias, batch).
    private let cases: [(Int, Int, Int, Int, Int, Bool, Int)] = [
        (5, 5, 3, 4, 1, true, 2), (6, 7, 8, 9, 1, false, 3), (8, 8, 16, 24, 1, true, 4),
        (1, 1, 13, 5, 1, false, 2), (7, 4, 6, 10, 0, true, 2), (4, 4, 64, 64, 1, false, 2),
    ]

    func testWinogradMatchesIm2colForwardAndBackward() throws {
        for (i, c) in cases.enumerated() {
            let spec = LayerSpec(.conv2d, name: "conv\(i)", units: c.3, kernel: 3, padding: c.4, bias: c.5)
            let fast = try makeConv(spec, channels: c.2), slow = try makeConv(spec, channels: c.2)
            slow.winograd = false
            XCTAssertEqual(fast.weight.value.data, slow.weight.value.data)
            let x = random([c.6, c.0, c.1, c.2], seed: UInt64(30 + i))
            for mode in [ForwardMode.training, .evaluation, .inference] {
                let yf = fast.forward(x, mode: mode), ys = slow.forward(x, mode: mode)
                XCTAssertEqual(yf.shape, ys.shape)
                let err = GradientCheck.relativeError(yf.data, ys.data)
                XCTAssertLessThan(err, Self.bound, "case \(c) \(mode): forward relative error \(err)")
            }
            _ = fast.forward(x, mode: .training)
            _ = slow.forward(x, mode: .training)
            let dy = random([c.6, c.0 + 2 * c.4 - 2, c.1 + 2 * c.4 - 2, c.3], seed: UInt64(60 + i))
            for p in fast.parameters + slow.parameters { p.zeroGrad() }
            let dxf = try XCTUnwrap(fast.backward(dy, needsInputGradient: true))
            let dxs = try XCTUnwrap(slow.backward(dy, needsInputGradient: true))
            XCTAssertLessThan(GradientCheck.relativeError(dxf.data, dxs.data), Self.bound, "case \(c): input gradient")
            XCTAssertLessThan(GradientCheck.relativeError(fast.weight.grad.data, slow.weight.grad.data), Self.bound,
                              "case \(c): weight gradient")
            if let bf = fast.bias, let bs = slow.bias {
                XCTAssertLessThan(GradientCheck.relativeError(bf.grad.data, bs.grad.data), Self.bound, "case \(c): bias gradient")
            }
        }
    }

    func testInferenceEpilogueMatchesSeparateAffineAndRelu() throws {
        let spec = LayerSpec(.conv2d, name: "conv", units: 11, kernel: 3, padding: 1)
        let conv = try makeConv(spec, channels: 5)
        let x = random([3, 6, 5, 5], seed: 7)
        var rng = SeededRandom(seed: 8)
        let scale = (0..<11).map { _ in rng.normal() }, shift = (0..<11).map { _ in rng.normal() }
        let fused = conv.forward(x, mode: .inference, epilogue: .init(scale: scale, shift: shift, relu: true))
        conv.winograd = false
        let plain = conv.forward(x, mode: .inference)
        let expected = plain.data.enumerated().map { i, v in max(0, v * scale[i % 11] + shift[i % 11]) }
        XCTAssertLessThan(GradientCheck.relativeError(fused.data, expected), Self.bound)
        XCTAssertTrue(fused.data.contains(0) && fused.data.contains { $0 > 0 }, "the ReLU should clip some outputs, not all")
    }

    func testWeightChangeRebuildsTransformedWeight() throws {
        let conv = try makeConv(LayerSpec(.conv2d, name: "conv", units: 4, kernel: 3, padding: 1), channels: 3)
        let x = random([2, 4, 4, 3], seed: 3)
        let before = conv.forward(x, mode: .inference)
        conv.weight.value.data[0] += 1
        let after = conv.forward(x, mode: .inference)
        conv.winograd = false
        let reference = conv.forward(x, mode: .inference)
        XCTAssertGreaterThan(GradientCheck.relativeError(before.data, after.data), 1e-3, "the output must follow the new weight")
        XCTAssertLessThan(GradientCheck.relativeError(after.data, reference.data), Self.bound)
    }

    func testWinogradGradientsAgainstFiniteDifferences() throws {
        // Odd and even sizes, a 1×1 image, no bias: all through the Winograd path.
        try GradientCheck.checkLayer(LayerSpec(.conv2d, name: "w_odd", units: 5, kernel: 3, padding: 1), shape: [5, 3, 4], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.conv2d, name: "w_even", units: 3, kernel: 3, padding: 1, bias: false),
                                     shape: [4, 6, 9], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.conv2d, name: "w_valid", units: 2, kernel: 3), shape: [5, 4, 3], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.conv2d, name: "w_one", units: 2, kernel: 3, padding: 1), shape: [1, 1, 3], batch: 3)
    }
}
