/// Max, average and global-average pooling over channels-last (NHWC) batches.
public enum PoolKernels {
    /// Max pooling; writes the output and, per output element, the flat index of the input
    /// element that won (for the backward pass). Padding cells never win.
    public static func maxForward(_ g: ConvGeometry, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                  argmax: UnsafeMutablePointer<Int32>) {
        let c = g.channels
        var o = 0
        for n in 0..<g.batch {
            let base = n * g.height * g.width * c
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for ch in 0..<c { y[o + ch] = -.infinity; argmax[o + ch] = -1 }
                    for ki in 0..<g.kernelHeight {
                        let ih = oh * g.stride - g.padding + ki
                        if ih < 0 || ih >= g.height { continue }
                        for kj in 0..<g.kernelWidth {
                            let iw = ow * g.stride - g.padding + kj
                            if iw < 0 || iw >= g.width { continue }
                            let idx = base + (ih * g.width + iw) * c
                            for ch in 0..<c where x[idx + ch] > y[o + ch] || argmax[o + ch] < 0 {
                                y[o + ch] = x[idx + ch]; argmax[o + ch] = Int32(idx + ch)
                            }
                        }
                    }
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

    /// Calls `body` with `ih * width + iw` for each in-bounds cell of the window at (oh, ow).
    @inline(__always)
    private static func forEachCell(_ g: ConvGeometry, _ oh: Int, _ ow: Int, _ body: (Int) -> Void) {
        for ki in 0..<g.kernelHeight {
            let ih = oh * g.stride - g.padding + ki
            if ih < 0 || ih >= g.height { continue }
            for kj in 0..<g.kernelWidth {
                let iw = ow * g.stride - g.padding + kj
                if iw < 0 || iw >= g.width { continue }
                body(ih * g.width + iw)
            }
        }
    }
}
