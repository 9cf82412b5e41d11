import XCTest
import CohortTensor

/// The direct depthwise kernels and the dilated / asymmetric / channel-slice im2col against
/// naive loops, and the backward kernels as exact adjoints of the forward ones.
final class DepthwiseKernelTests: XCTestCase {
    /// (height, width, channels, kernel, stride, pads, dilation); channels 1, 8, 13 and 45
    /// reach the scalar, 8-wide and 32-wide channel loops.
    private let shapes: [(Int, Int, Int, Int, Int, (Int, Int, Int, Int), Int)] = [
        (5, 5, 1, 3, 1, (1, 1, 1, 1), 1), (6, 7, 8, 3, 2, (0, 1, 1, 0), 1),
        (7, 6, 13, 3, 1, (2, 2, 2, 2), 2), (6, 6, 45, 3, 2, (1, 0, 2, 1), 2), (4, 5, 9, 1, 2, (0, 0, 0, 0), 1),
    ]

    private func geometry(_ s: (Int, Int, Int, Int, Int, (Int, Int, Int, Int), Int), batch: Int) -> ConvGeometry {
        ConvGeometry(batch: batch, height: s.0, width: s.1, channels: s.2, kernelHeight: s.3, kernelWidth: s.3,
                     stride: s.4, pads: (top: s.5.0, bottom: s.5.1, left: s.5.2, right: s.5.3), dilation: s.6)
    }

    private func random(_ count: Int, _ rng: inout SeededRandom) -> [Float] { (0..<count).map { _ in rng.normal() } }

    private func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    func testGeometrySizesWithAsymmetricPadsAndDilation() {
        let g = ConvGeometry(batch: 1, height: 7, width: 6, channels: 1, kernelHeight: 3, kernelWidth: 3, stride: 2,
                             pads: (top: 0, bottom: 1, left: 2, right: 0), dilation: 2)
        // Span 5: rows (7 + 1 − 5) / 2 + 1 = 2, columns (6 + 2 − 5) / 2 + 1 = 2.
        XCTAssertEqual([g.outHeight, g.outWidth], [2, 2])
        XCTAssertFalse(g.isSymmetric)
        let symmetric = ConvGeometry(batch: 1, height: 5, width: 5, channels: 1, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1)
        XCTAssertTrue(symmetric.isSymmetric)
        XCTAssertEqual([symmetric.outHeight, symmetric.outWidth, symmetric.padding], [5, 5, 1])
    }

    func testDepthwiseForwardMatchesNaiveAndBackwardIsItsAdjoint() {
        for s in shapes {
            let g = geometry(s, batch: 2)
            let c = g.channels, area = g.kernelHeight * g.kernelWidth
            var rng = SeededRandom(seed: UInt64(c))
            let x = random(g.batch * g.height * g.width * c, &rng), w = random(area * c, &rng), bias = random(c, &rng)
            var y = [Float](repeating: .nan, count: g.outputPositions * c)
            DepthwiseKernels.forward(g, x: x, weight: w, bias: bias, y: &y)
            var worst: Float = 0
            for n in 0..<g.batch { for oh in 0..<g.outHeight { for ow in 0..<g.outWidth { for ch in 0..<c {
                var acc = bias[ch]
                for ki in 0..<g.kernelHeight { for kj in 0..<g.kernelWidth {
                    let ih = oh * g.stride - g.padTop + ki * g.dilation, iw = ow * g.stride - g.padLeft + kj * g.dilation
                    if ih >= 0 && ih < g.height && iw >= 0 && iw < g.width {
                        acc += x[((n * g.height + ih) * g.width + iw) * c + ch] * w[(ki * g.kernelWidth + kj) * c + ch]
                    }
                } }
                worst = max(worst, abs(acc - y[((n * g.outHeight + oh) * g.outWidth + ow) * c + ch]))
            } } } }
            XCTAssertLessThan(worst, 1e-4, "forward \(s)")
            // Without bias the forward map is linear in x and in w: ⟨f(x, w), dy⟩ = ⟨x, dx⟩ = ⟨w, dw⟩.
            var plain = [Float](repeating: 0, count: y.count)
            DepthwiseKernels.forward(g, x: x, weight: w, bias: nil, y: &plain)
            let dy = random(y.count, &rng)
            var dx = [Float](repeating: .nan, count: x.count)
            DepthwiseKernels.inputGradient(g, dy: dy, weight: w, dx: &dx)
            var dw = [Float](repeating: 0, count: w.count)
            DepthwiseKernels.weightGradient(g, x: x, dy: dy, dw: &dw)
            let reference = dot(plain, dy)
            XCTAssertEqual(dot(x, dx), reference, accuracy: 1e-3 * max(1, abs(reference)), "input gradient \(s)")
            XCTAssertEqual(dot(w, dw), reference, accuracy: 1e-3 * max(1, abs(reference)), "weight gradient \(s)")
        }
    }

    func testParallelDepthwiseMatchesSerial() {
        let g = ConvGeometry(batch: 8, height: 16, width: 16, channels: 40, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1)
        var rng = SeededRandom(seed: 9)
        let x = random(8 * 16 * 16 * 40, &rng), w = random(9 * 40, &rng), dy = random(8 * 16 * 16 * 40, &rng)
        func run(serial: Bool) -> ([Float], [Float], [Float]) {
            let saved = Gemm.parallelThreshold
            if serial { Gemm.parallelThreshold = Int.max }
            defer { Gemm.parallelThreshold = saved }
            var y = [Float](repeating: 0, count: x.count), dx = y, dw = [Float](repeating: 0, count: w.count)
            DepthwiseKernels.forward(g, x: x, weight: w, bias: nil, y: &y)
            DepthwiseKernels.inputGradient(g, dy: dy, weight: w, dx: &dx)
            DepthwiseKernels.weightGradient(g, x: x, dy: dy, dw: &dw)
            return (y, dx, dw)
        }
        let s = run(serial: true), p = run(serial: false)
        XCTAssertEqual(s.0, p.0)
        XCTAssertEqual(s.1, p.1)
        // The weight gradient sums the two halves in another order: equal up to rounding.
        XCTAssertLessThan(zip(s.2, p.2).map { abs($0 - $1) }.max()!, 1e-3)
    }

    func testChannelSliceIm2colMatchesNaive() {
        // Group 1 of 3 (channels 2..<4 of 6), dilation 2, asymmetric pads.
        let g = ConvGeometry(batch: 2, height: 5, width: 6, channels: 6, kernelHeight: 2, kernelWidth: 3, stride: 1,
                             pads: (top: 1, bottom: 0, left: 0, right: 2), dilation: 2)
        var rng = SeededRandom(seed: 4)
        let x = random(2 * 5 * 6 * 6, &rng)
        let patch = 2 * 3 * 2
        var cols = [Float](repeating: .nan, count: g.outputPositions * patch)
        ConvKernels.im2col(g, x: x, cols: &cols, channelOffset: 2, channelCount: 2)
        var expected: [Float] = []
        for n in 0..<2 { for oh in 0..<g.outHeight { for ow in 0..<g.outWidth {
            for ki in 0..<2 { for kj in 0..<3 { for ch in 2..<4 {
                let ih = oh - 1 + 2 * ki, iw = ow + 2 * kj
                expected.append(ih >= 0 && ih < 5 && iw >= 0 && iw < 6 ? x[((n * 5 + ih) * 6 + iw) * 6 + ch] : 0)
            } } }
        } } }
        XCTAssertEqual(cols, expected)
        // col2im of those columns is the adjoint: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩.
        let c = random(cols.count, &rng)
        var dx = [Float](repeating: 0, count: x.count)
        ConvKernels.col2im(g, cols: c, dx: &dx, channelOffset: 2, channelCount: 2)
        XCTAssertEqual(dot(x, dx), dot(cols, c), accuracy: 1e-3)
        XCTAssertTrue((0..<x.count).allSatisfy { ($0 % 6 == 2 || $0 % 6 == 3) || dx[$0] == 0 }, "other groups untouched")
    }
}
