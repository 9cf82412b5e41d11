/// Convolution as im2col + GEMM on channels-last (NHWC) data.
///
/// Each output position becomes one row of a `positions × patch` matrix whose columns are
/// ordered (channel, kernel row, kernel column) — the order of a PyTorch weight
/// `[out, in, kh, kw]` — so `output = cols · Wᵀ` lands directly in NHWC and the weight keeps
/// PyTorch's layout. A batched im2col gives one large GEMM instead of one small one per image.
public enum ConvKernels {
    /// Writes the im2col matrix of `x` (NHWC) into `cols` (`outputPositions × patchSize`).
    public static func im2col(_ g: ConvGeometry, x: UnsafePointer<Float>, cols: UnsafeMutablePointer<Float>) {
        let kk = g.kernelHeight * g.kernelWidth
        let patch = g.patchSize
        var row = cols
        for n in 0..<g.batch {
            let image = x + n * g.height * g.width * g.channels
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for ki in 0..<g.kernelHeight {
                        let ih = oh * g.stride - g.padding + ki
                        for kj in 0..<g.kernelWidth {
                            let iw = ow * g.stride - g.padding + kj
                            let dst = row + ki * g.kernelWidth + kj
                            if ih < 0 || ih >= g.height || iw < 0 || iw >= g.width {
                                for c in 0..<g.channels { dst[c * kk] = 0 }
                            } else {
                                let src = image + (ih * g.width + iw) * g.channels
                                for c in 0..<g.channels { dst[c * kk] = src[c] }
                            }
                        }
                    }
                    row += patch
                }
            }
        }
    }

    /// Scatters (adds) an im2col-shaped gradient back onto an NHWC input gradient `dx`, which
    /// the caller has zeroed.
    public static func col2im(_ g: ConvGeometry, cols: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let kk = g.kernelHeight * g.kernelWidth
        let patch = g.patchSize
        var row = cols
        for n in 0..<g.batch {
            let image = dx + n * g.height * g.width * g.channels
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for ki in 0..<g.kernelHeight {
                        let ih = oh * g.stride - g.padding + ki
                        if ih < 0 || ih >= g.height { continue }
                        for kj in 0..<g.kernelWidth {
                            let iw = ow * g.stride - g.padding + kj
                            if iw < 0 || iw >= g.width { continue }
                            let src = row + ki * g.kernelWidth + kj
                            let dst = image + (ih * g.width + iw) * g.channels
                            for c in 0..<g.channels { dst[c] += src[c * kk] }
                        }
                    }
                    row += patch
                }
            }
        }
    }
}
