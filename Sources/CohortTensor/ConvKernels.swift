/// Convolution as im2col + GEMM on channels-last (NHWC) data.
///
/// Each output position becomes one row of a `positions × patch` matrix whose columns are
/// ordered (kernel row, kernel column, channel). In NHWC the cells of one kernel row are
/// adjacent in memory, so each kernel row of a patch is one contiguous copy. A batched im2col
/// gives one large GEMM instead of one small one per image; `output = cols · W'ᵀ` lands
/// directly in NHWC, where `W'` is the weight permuted to `[out, kh, kw, in]`.
public enum ConvKernels {
    /// Writes the im2col matrix of `x` (NHWC) into `cols` (`outputPositions × patchSize`),
    /// splitting the batch across the worker pool when it pays.
    public static func im2col(_ g: ConvGeometry, x: UnsafePointer<Float>, cols: UnsafeMutablePointer<Float>) {
        im2col(g, x: x, cols: cols, channelOffset: 0, channelCount: g.channels)
    }

    /// The im2col matrix of the channel slice `channelOffset..<channelOffset+channelCount` of
    /// `x` (one group of a grouped convolution): `outputPositions × (kernelArea · channelCount)`,
    /// columns ordered (kernel row, kernel column, channel of the slice).
    public static func im2col(_ g: ConvGeometry, x: UnsafePointer<Float>, cols: UnsafeMutablePointer<Float>,
                              channelOffset: Int, channelCount: Int) {
        let patch = g.kernelHeight * g.kernelWidth * channelCount
        forBatchSlices(g) { sub, n0 in
            im2colSerial(sub, x: x + n0 * g.height * g.width * g.channels,
                         cols: cols + n0 * g.outHeight * g.outWidth * patch, c0: channelOffset, cg: channelCount)
        }
    }

    /// Adds an im2col-shaped gradient back onto an NHWC input gradient `dx`, which the caller
    /// has zeroed.
    public static func col2im(_ g: ConvGeometry, cols: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        col2im(g, cols: cols, dx: dx, channelOffset: 0, channelCount: g.channels)
    }

    /// `col2im` for the channel slice of one group (see the slice form of `im2col`).
    public static func col2im(_ g: ConvGeometry, cols: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                              channelOffset: Int, channelCount: Int) {
        let patch = g.kernelHeight * g.kernelWidth * channelCount
        forBatchSlices(g) { sub, n0 in
            col2imSerial(sub, cols: cols + n0 * g.outHeight * g.outWidth * patch,
                         dx: dx + n0 * g.height * g.width * g.channels, c0: channelOffset, cg: channelCount)
        }
    }

    /// Runs `body(subGeometry, firstImage)` over halves of the batch on two threads when the
    /// batch is big enough, else once over the whole batch. Images are independent, so the
    /// halves write disjoint memory.
    public static func forBatchSlices(_ g: ConvGeometry, _ body: (ConvGeometry, Int) -> Void) {
        let pool = WorkerPool.shared
        let work = g.outputPositions * g.patchSize
        guard pool.width > 1, g.batch >= 2, work >= 1 << 15, Gemm.parallelThreshold < Int.max else {
            body(g, 0)
            return
        }
        let half = g.batch / 2
        pool.run(tasks: 2) { t in
            var sub = g
            sub.batch = t == 0 ? half : g.batch - half
            body(sub, t == 0 ? 0 : half)
        }
    }

    static func im2colSerial(_ g: ConvGeometry, x: UnsafePointer<Float>, cols: UnsafeMutablePointer<Float>,
                             c0: Int = 0, cg: Int? = nil) {
        let cg = cg ?? g.channels
        guard g.dilation == 1 && cg == g.channels else {
            im2colCells(g, x: x, cols: cols, c0: c0, cg: cg)
            return
        }
        let c = g.channels, rowLength = g.kernelWidth * c
        var row = cols
        for n in 0..<g.batch {
            let image = x + n * g.height * g.width * c
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    let iw0 = ow * g.stride - g.padLeft
                    // Columns [lo, hi) of the kernel row fall inside the image.
                    let lo = max(0, -iw0), hi = min(g.kernelWidth, g.width - iw0)
                    for ki in 0..<g.kernelHeight {
                        let ih = oh * g.stride - g.padTop + ki
                        let dst = row + ki * rowLength
                        if ih < 0 || ih >= g.height || lo >= hi {
                            dst.update(repeating: 0, count: rowLength)
                            continue
                        }
                        if lo > 0 { dst.update(repeating: 0, count: lo * c) }
                        dst.advanced(by: lo * c).update(from: image + (ih * g.width + iw0 + lo) * c, count: (hi - lo) * c)
                        if hi < g.kernelWidth { dst.advanced(by: hi * c).update(repeating: 0, count: (g.kernelWidth - hi) * c) }
                    }
                    row += g.patchSize
                }
            }
        }
    }

    /// im2col one kernel cell at a time: dilated kernels and channel slices (groups).
    static func im2colCells(_ g: ConvGeometry, x: UnsafePointer<Float>, cols: UnsafeMutablePointer<Float>, c0: Int, cg: Int) {
        let c = g.channels, d = g.dilation
        var dst = cols
        for n in 0..<g.batch {
            let image = x + n * g.height * g.width * c + c0
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for ki in 0..<g.kernelHeight {
                        let ih = oh * g.stride - g.padTop + ki * d
                        for kj in 0..<g.kernelWidth {
                            let iw = ow * g.stride - g.padLeft + kj * d
                            if ih < 0 || ih >= g.height || iw < 0 || iw >= g.width {
                                dst.update(repeating: 0, count: cg)
                            } else {
                                dst.update(from: image + (ih * g.width + iw) * c, count: cg)
                            }
                            dst += cg
                        }
                    }
                }
            }
        }
    }

    static func col2imSerial(_ g: ConvGeometry, cols: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                             c0: Int = 0, cg: Int? = nil) {
        let cg = cg ?? g.channels
        guard g.dilation == 1 && cg == g.channels else {
            col2imCells(g, cols: cols, dx: dx, c0: c0, cg: cg)
            return
        }
        let c = g.channels, rowLength = g.kernelWidth * c
        var row = cols
        for n in 0..<g.batch {
            let image = dx + n * g.height * g.width * c
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    let iw0 = ow * g.stride - g.padLeft
                    let lo = max(0, -iw0), hi = min(g.kernelWidth, g.width - iw0)
                    if lo < hi {
                        for ki in 0..<g.kernelHeight {
                            let ih = oh * g.stride - g.padTop + ki
                            if ih < 0 || ih >= g.height { continue }
                            VectorKernels.axpy(count: (hi - lo) * c, alpha: 1, x: row + ki * rowLength + lo * c,
                                               y: image + (ih * g.width + iw0 + lo) * c)
                        }
                    }
                    row += g.patchSize
                }
            }
        }
    }

    /// col2im one kernel cell at a time: dilated kernels and channel slices (groups).
    static func col2imCells(_ g: ConvGeometry, cols: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, c0: Int, cg: Int) {
        let c = g.channels, d = g.dilation
        var src = cols
        for n in 0..<g.batch {
            let image = dx + n * g.height * g.width * c + c0
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for ki in 0..<g.kernelHeight {
                        let ih = oh * g.stride - g.padTop + ki * d
                        for kj in 0..<g.kernelWidth {
                            let iw = ow * g.stride - g.padLeft + kj * d
                            if ih >= 0 && ih < g.height && iw >= 0 && iw < g.width {
                                VectorKernels.axpy(count: cg, alpha: 1, x: src, y: image + (ih * g.width + iw) * c)
                            }
                            src += cg
                        }
                    }
                }
            }
        }
    }

    /// Runs `body` with a reusable 64-byte-aligned scratch buffer of at least `count` floats
    /// (contents undefined), e.g. im2col columns that no backward pass will read.
    public static func withScratch<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try ScratchBuffers.with(count: count, body)
    }

    /// Permutes a PyTorch-layout weight `[out, in, kh, kw]` to the im2col column order
    /// `[out, kh, kw, in]`; large weights are split by output channel across the pool.
    public static func permuteWeightToPatchOrder(_ w: UnsafePointer<Float>, out: Int, inChannels: Int, kernelArea: Int,
                                                 into dst: UnsafeMutablePointer<Float>) {
        let pw = SendablePointer(w), pd = SendableMutablePointer(dst), row = inChannels * kernelArea
        forOutputSlices(out: out, row: row) { lo, hi in
            for o in lo..<hi {
                let src = pw.p + o * row, d = pd.p + o * row
                for ci in 0..<inChannels { for s in 0..<kernelArea { d[s * inChannels + ci] = src[ci * kernelArea + s] } }
            }
        }
    }

    /// Adds a patch-order weight gradient `[out, kh, kw, in]` into a PyTorch-layout gradient
    /// `[out, in, kh, kw]`; large weights are split by output channel across the pool.
    public static func addPatchOrderGradient(_ g: UnsafePointer<Float>, out: Int, inChannels: Int, kernelArea: Int,
                                             into dst: UnsafeMutablePointer<Float>) {
        let pg = SendablePointer(g), pd = SendableMutablePointer(dst), row = inChannels * kernelArea
        forOutputSlices(out: out, row: row) { lo, hi in
            for o in lo..<hi {
                let src = pg.p + o * row, d = pd.p + o * row
                for ci in 0..<inChannels { for s in 0..<kernelArea { d[ci * kernelArea + s] += src[s * inChannels + ci] } }
            }
        }
    }

    /// Runs `body(lo, hi)` over disjoint output-channel ranges covering `0..<out`, two at once
    /// when the weight is large.
    private static func forOutputSlices(out: Int, row: Int, _ body: (Int, Int) -> Void) {
        let pool = WorkerPool.shared
        guard pool.width > 1, out >= 2, out * row >= 1 << 16 else { body(0, out); return }
        pool.run(tasks: 2) { t in body(out * t / 2, out * (t + 1) / 2) }
    }
}
