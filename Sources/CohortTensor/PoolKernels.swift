/// Max, average and global-average pooling over channels-last (NHWC) batches.
public enum PoolKernels {
    /// Max pooling; writes the output and, per output element, the flat index of the input
    /// element that won (for the backward pass; -1 for a window with no valid cell). Padding
    /// cells never win. The batch is split across the worker pool when it pays.
    public static func maxForward(_ g: ConvGeometry, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                  argmax: UnsafeMutablePointer<Int32>) {
        ConvKernels.forBatchSlices(g) { sub, n0 in
            let outPerImage = g.outHeight * g.outWidth * g.channels
            maxForwardSerial(sub, x: x, firstImage: n0, y: y + n0 * outPerImage, argmax: argmax + n0 * outPerImage)
        }
    }

    private static func maxForwardSerial(_ g: ConvGeometry, x: UnsafePointer<Float>, firstImage: Int,
                                         y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
        let c = g.channels
        let vectorized = c % 8 == 0
        var o = 0
        for n in 0..<g.batch {
            let base = (firstImage + n) * g.height * g.width * c
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    var first = true
                    forEachCell(g, oh, ow) { cell in
                        let idx = base + cell * c
                        if first {
                            for ch in 0..<c { y[o + ch] = x[idx + ch]; argmax[o + ch] = Int32(idx + ch) }
                            first = false
                        } else if vectorized {
                            var ch = 0
                            let lane = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
                            while ch < c {
                                let v = UnsafeRawPointer(x + idx + ch).loadUnaligned(as: SIMD8<Float>.self)
                                let best = UnsafeRawPointer(y + o + ch).loadUnaligned(as: SIMD8<Float>.self)
                                let wins = v .> best
                                if any(wins) {
                                    let bi = UnsafeRawPointer(argmax + o + ch).loadUnaligned(as: SIMD8<Int32>.self)
                                    let cand = SIMD8<Int32>(repeating: Int32(idx + ch)) &+ lane
                                    UnsafeMutableRawPointer(y + o + ch).storeBytes(of: best.replacing(with: v, where: wins), as: SIMD8<Float>.self)
                                    UnsafeMutableRawPointer(argmax + o + ch).storeBytes(of: bi.replacing(with: cand, where: wins), as: SIMD8<Int32>.self)
                                }
                                ch &+= 8
                            }
                        } else {
                            for ch in 0..<c where x[idx + ch] > y[o + ch] { y[o + ch] = x[idx + ch]; argmax[o + ch] = Int32(idx + ch) }
                        }
                    }
                    if first { for ch in 0..<c { y[o + ch] = 0; argmax[o + ch] = -1 } }
                    o += c
                }
            }
        }
    }

    /// Routes each output gradient to the input element that won the max; `dx` is zeroed here.
    public static func maxBackward(outputCount: Int, inputCount: Int, dy: UnsafePointer<Float>,
                                   argmax: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>) {
        dx.update(repeating: 0, count: inputCount)
        for o in 0..<outputCount where argmax[o] >= 0 { dx[Int(argmax[o])] += dy[o] }
    }

    /// Average pooling (padding cells count as zeros, as PyTorch's default `count_include_pad`).
    public static func averageForward(_ g: ConvGeometry, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let c = g.channels
        let inv = 1 / Float(g.kernelHeight * g.kernelWidth)
        var o = 0
        for n in 0..<g.batch {
            let base = n * g.height * g.width * c
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for ch in 0..<c { y[o + ch] = 0 }
                    forEachCell(g, oh, ow) { cell in
                        let idx = base + cell * c
                        for ch in 0..<c { y[o + ch] += x[idx + ch] }
                    }
                    for ch in 0..<c { y[o + ch] *= inv }
                    o += c
                }
            }
        }
    }

    /// Backward of average pooling; `dx` is zeroed here.
    public static func averageBackward(_ g: ConvGeometry, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let c = g.channels
        let inv = 1 / Float(g.kernelHeight * g.kernelWidth)
        dx.update(repeating: 0, count: g.batch * g.height * g.width * c)
        var o = 0
        for n in 0..<g.batch {
            let base = n * g.height * g.width * c
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    forEachCell(g, oh, ow) { cell in
                        let idx = base + cell * c
                        for ch in 0..<c { dx[idx + ch] += dy[o + ch] * inv }
                    }
                    o += c
                }
            }
        }
    }

    /// The input rows (or columns) that adaptive pooling averages for output `i` of `outSize`
    /// over `inSize`: `⌊i·in/out⌋ ..< ⌈(i+1)·in/out⌉`, as PyTorch's `AdaptiveAvgPool2d`.
    @inline(__always)
    public static func adaptiveWindow(_ i: Int, inSize: Int, outSize: Int) -> Range<Int> {
        (i * inSize) / outSize ..< ((i + 1) * inSize + outSize - 1) / outSize
    }

    /// Adaptive average pooling of an NHWC batch `[batch, height, width, channels]` to
    /// `[batch, outSize, outSize, channels]`; `y` is overwritten.
    public static func adaptiveAverageForward(batch: Int, height: Int, width: Int, channels c: Int, outSize: Int,
                                              x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        var o = y
        for n in 0..<batch {
            let image = x + n * height * width * c
            for oh in 0..<outSize {
                let rows = adaptiveWindow(oh, inSize: height, outSize: outSize)
                for ow in 0..<outSize {
                    let cols = adaptiveWindow(ow, inSize: width, outSize: outSize)
                    let inv = 1 / Float(rows.count * cols.count)
                    o.update(repeating: 0, count: c)
                    for ih in rows { for iw in cols { VectorKernels.axpy(count: c, alpha: inv, x: image + (ih * width + iw) * c, y: o) } }
                    o += c
                }
            }
        }
    }

    /// Backward of adaptive average pooling; `dx` is zeroed here.
    public static func adaptiveAverageBackward(batch: Int, height: Int, width: Int, channels c: Int, outSize: Int,
                                               dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        dx.update(repeating: 0, count: batch * height * width * c)
        var o = dy
        for n in 0..<batch {
            let image = dx + n * height * width * c
            for oh in 0..<outSize {
                let rows = adaptiveWindow(oh, inSize: height, outSize: outSize)
                for ow in 0..<outSize {
                    let cols = adaptiveWindow(ow, inSize: width, outSize: outSize)
                    let inv = 1 / Float(rows.count * cols.count)
                    for ih in rows { for iw in cols { VectorKernels.axpy(count: c, alpha: inv, x: o, y: image + (ih * width + iw) * c) } }
                    o += c
                }
            }
        }
    }

    /// Calls `body` with `ih * width + iw` for each in-bounds cell of the window at (oh, ow).
    @inline(__always)
    private static func forEachCell(_ g: ConvGeometry, _ oh: Int, _ ow: Int, _ body: (Int) -> Void) {
        for ki in 0..<g.kernelHeight {
            let ih = oh * g.stride - g.padTop + ki * g.dilation
            if ih < 0 || ih >= g.height { continue }
            for kj in 0..<g.kernelWidth {
                let iw = ow * g.stride - g.padLeft + kj * g.dilation
                if iw < 0 || iw >= g.width { continue }
                body(ih * g.width + iw)
            }
        }
    }
}
