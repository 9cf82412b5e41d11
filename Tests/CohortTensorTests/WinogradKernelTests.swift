import XCTest
import CohortTensor

/// Winograd F(2×2, 3×3) forward and backward against naive double-precision loops.
///
/// Bound: the transforms only add, subtract and halve, so each output carries a float32
/// rounding error of a few ulps times Σ|w·x| over its receptive field; with N(0, 1) data that
/// sum is within a small factor of the output's own scale, so a norm-wise relative error of
/// 1e-5 (≈ 80 ulps) is loose for correct code, while a wrong matrix entry, tile offset or
/// edge cell gives errors of order 1e-1.
final class WinogradKernelTests: XCTestCase {
    static let bound = 1e-5

    /// (height, width, in, out, pads (top, bottom, left, right), batch): odd and even sizes,
    /// 1×1 images, channel counts that reach the 8-wide loop and its scalar tail.
    private let shapes: [(Int, Int, Int, Int, (Int, Int, Int, Int), Int)] = [
        (5, 5, 3, 4, (1, 1, 1, 1), 2), (6, 7, 8, 9, (1, 1, 1, 1), 3), (4, 4, 16, 8, (1, 1, 1, 1), 1),
        (1, 1, 13, 17, (1, 1, 1, 1), 2), (3, 2, 9, 24, (1, 1, 1, 1), 2), (7, 6, 5, 3, (0, 1, 1, 0), 2),
        (6, 5, 10, 7, (0, 0, 0, 0), 2), (8, 8, 64, 32, (1, 1, 1, 1), 4),
    ]

    private func geometry(_ s: (Int, Int, Int, Int, (Int, Int, Int, Int), Int)) -> ConvGeometry {
        ConvGeometry(batch: s.5, height: s.0, width: s.1, channels: s.2, kernelHeight: 3, kernelWidth: 3, stride: 1,
                     pads: (top: s.4.0, bottom: s.4.1, left: s.4.2, right: s.4.3), dilation: 1)
    }

    private func random(_ count: Int, _ rng: inout SeededRandom) -> [Float] { (0..<count).map { _ in rng.normal() } }

    /// ‖a − b‖ / ‖b‖ in double.
    private func relativeError(_ a: [Float], _ b: [Double]) -> Double {
        var d = 0.0, n = 0.0
        for i in 0..<a.count { d += (Double(a[i]) - b[i]) * (Double(a[i]) - b[i]); n += b[i] * b[i] }
        return n == 0 ? d.squareRoot() : (d / n).squareRoot()
    }

    /// Calls `body(n, oh, ow, ih, iw, kh, kw)` for every output cell and kernel cell inside the image.
    private func eachTap(_ g: ConvGeometry, _ body: (Int, Int, Int, Int, Int, Int, Int) -> Void) {
        for n in 0..<g.batch { for oh in 0..<g.outHeight { for ow in 0..<g.outWidth {
            for kh in 0..<3 { for kw in 0..<3 {
                let ih = oh - g.padTop + kh, iw = ow - g.padLeft + kw
                if ih >= 0 && ih < g.height && iw >= 0 && iw < g.width { body(n, oh, ow, ih, iw, kh, kw) }
            } }
        } } }
    }

    private func transformed(_ w: [Float], out: Int, inChannels: Int) -> [Float] {
        var u = [Float](repeating: .nan, count: 16 * out * inChannels)
        w.withUnsafeBufferPointer { pw in
            u.withUnsafeMutableBufferPointer { WinogradKernels.transformWeights(pw.baseAddress!, out: out, inChannels: inChannels, into: $0.baseAddress!) }
        }
        return u
    }

    func testAppliesOnlyToThreeByThreeStrideOneUndilated() {
        func g(_ k: Int, _ s: Int, _ d: Int) -> ConvGeometry {
            ConvGeometry(batch: 1, height: 8, width: 8, channels: 4, kernelHeight: k, kernelWidth: k, stride: s,
                         pads: (top: 1, bottom: 1, left: 1, right: 1), dilation: d)
        }
        XCTAssertTrue(WinogradKernels.applies(to: g(3, 1, 1)))
        XCTAssertFalse(WinogradKernels.applies(to: g(3, 2, 1)))
        XCTAssertFalse(WinogradKernels.applies(to: g(3, 1, 2)))
        XCTAssertFalse(WinogradKernels.applies(to: g(5, 1, 1)))
        XCTAssertFalse(WinogradKernels.applies(to: g(1, 1, 1)))
        XCTAssertEqual(WinogradKernels.tileCount(ConvGeometry(batch: 3, height: 5, width: 4, channels: 2,
                                                              kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1)), 3 * 3 * 2)
    }

    func testForwardMatchesNaiveWithBiasAndEpilogue() {
        for (index, s) in shapes.enumerated() {
            let g = geometry(s), out = s.3, c = g.channels
            var rng = SeededRandom(seed: UInt64(100 + index))
            let x = random(g.batch * g.height * g.width * c, &rng), w = random(out * c * 9, &rng)
            let bias = random(out, &rng), scale = random(out, &rng), shift = random(out, &rng)
            var ref = [Double](repeating: 0, count: g.outputPositions * out)
            eachTap(g) { n, oh, ow, ih, iw, kh, kw in
                let o = ((n * g.outHeight + oh) * g.outWidth + ow) * out, xi = ((n * g.height + ih) * g.width + iw) * c
                for k in 0..<out { for ci in 0..<c { ref[o + k] += Double(w[((k * c + ci) * 3 + kh) * 3 + kw]) * Double(x[xi + ci]) } }
            }
            let u = transformed(w, out: out, inChannels: c)
            for variant in 0..<3 {
                // 0: no bias; 1: bias; 2: bias, then ·scale + shift and ReLU.
                var expected = ref
                if variant >= 1 { for i in 0..<expected.count { expected[i] += Double(bias[i % out]) } }
                if variant == 2 {
                    for i in 0..<expected.count { expected[i] = max(0, expected[i] * Double(scale[i % out]) + Double(shift[i % out])) }
                }
                var y = [Float](repeating: .nan, count: g.outputPositions * out)
                x.withUnsafeBufferPointer { px in u.withUnsafeBufferPointer { pu in
                    bias.withUnsafeBufferPointer { pb in scale.withUnsafeBufferPointer { ps in shift.withUnsafeBufferPointer { pt in
                        y.withUnsafeMutableBufferPointer { py in
                            WinogradKernels.forward(g, x: px.baseAddress!, u: pu.baseAddress!, out: out,
                                                    bias: variant >= 1 ? pb.baseAddress! : nil,
                                                    scale: variant == 2 ? ps.baseAddress! : nil, shift: variant == 2 ? pt.baseAddress! : nil,
                                                    relu: variant == 2, y: py.baseAddress!)
                        }
                    } } }
                } }
                let err = relativeError(y, expected)
                XCTAssertLessThan(err, Self.bound, "shape \(s) variant \(variant): relative error \(err)")
            }
        }
    }

    func testBackwardMatchesNaiveGradients() {
        for (index, s) in shapes.enumerated() {
            let g = geometry(s), out = s.3, c = g.channels
            var rng = SeededRandom(seed: UInt64(200 + index))
            let x = random(g.batch * g.height * g.width * c, &rng), w = random(out * c * 9, &rng)
            let dy = random(g.outputPositions * out, &rng)
            var dxRef = [Double](repeating: 0, count: x.count), dwRef = [Double](repeating: 0, count: w.count)
            eachTap(g) { n, oh, ow, ih, iw, kh, kw in
                let o = ((n * g.outHeight + oh) * g.outWidth + ow) * out, xi = ((n * g.height + ih) * g.width + iw) * c
                for k in 0..<out {
                    for ci in 0..<c {
                        let wi = ((k * c + ci) * 3 + kh) * 3 + kw
                        dxRef[xi + ci] += Double(w[wi]) * Double(dy[o + k])
                        dwRef[wi] += Double(x[xi + ci]) * Double(dy[o + k])
                    }
                }
            }
            let u = transformed(w, out: out, inChannels: c)
            var v = [Float](repeating: .nan, count: 16 * WinogradKernels.tileCount(g) * c)
            var y = [Float](repeating: .nan, count: g.outputPositions * out)
            // The gradient is added onto what dw holds: start from 1 everywhere.
            var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 1, count: w.count)
            x.withUnsafeBufferPointer { px in u.withUnsafeBufferPointer { pu in v.withUnsafeMutableBufferPointer { pv in
                y.withUnsafeMutableBufferPointer { py in
                    WinogradKernels.forward(g, x: px.baseAddress!, v: pv.baseAddress!, u: pu.baseAddress!, out: out, bias: nil, y: py.baseAddress!)
                }
                dy.withUnsafeBufferPointer { pdy in dx.withUnsafeMutableBufferPointer { pdx in dw.withUnsafeMutableBufferPointer { pdw in
                    WinogradKernels.backward(g, dy: pdy.baseAddress!, v: pv.baseAddress!, u: pu.baseAddress!, out: out,
                                             dw: pdw.baseAddress!, dx: pdx.baseAddress!)
                } } }
            } } }
            let errX = relativeError(dx, dxRef), errW = relativeError(dw, dwRef.map { $0 + 1 })
            XCTAssertLessThan(errX, Self.bound, "shape \(s): input gradient relative error \(errX)")
            XCTAssertLessThan(errW, Self.bound, "shape \(s): weight gradient relative error \(errW)")
        }
    }
}
