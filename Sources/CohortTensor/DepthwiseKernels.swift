/// Direct depthwise convolution on channels-last (NHWC) data: channel `c` of the output reads
/// only channel `c` of the input (`groups == channels`, multiplier 1).
///
/// im2col + GEMM is a poor fit here (one tiny GEMM per channel); NHWC keeps the channels of a
/// pixel contiguous, so each kernel cell is one SIMD multiply-add over a run of channels.
/// The weight is cell-major, `[kernelHeight · kernelWidth, channels]` (PyTorch's
/// `[channels, 1, kh, kw]` transposed), so the weights of one cell are contiguous too.
/// Forward and input gradient are gathers (each output written once, accumulated in
/// registers); the weight gradient accumulates along output rows.
public enum DepthwiseKernels {
    /// `y[n, oh, ow, ch] = bias[ch] + Σ_cells x[n, ih, iw, ch] · w[cell, ch]`; `y` is overwritten.
    public static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        ConvKernels.forBatchSlices(g) { sub, n0 in
            forwardSerial(sub, x: x + n0 * g.height * g.width * g.channels, weight: weight, bias: bias,
                          y: y + n0 * g.outHeight * g.outWidth * g.channels)
        }
    }

    /// The input gradient `dx` (overwritten) from the output gradient `dy`.
    public static func inputGradient(_ g: ConvGeometry, dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     dx: UnsafeMutablePointer<Float>) {
        ConvKernels.forBatchSlices(g) { sub, n0 in
            inputGradientSerial(sub, dy: dy + n0 * g.outHeight * g.outWidth * g.channels, weight: weight,
                                dx: dx + n0 * g.height * g.width * g.channels)
        }
    }

    /// Adds the weight gradient (cell-major `[kh · kw, channels]`) into `dw`. With two workers
    /// and a large enough batch, each half of the batch sums into its own buffer first.
    public static func weightGradient(_ g: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                      dw: UnsafeMutablePointer<Float>) {
        let cells = g.kernelHeight * g.kernelWidth * g.channels
        let pool = WorkerPool.shared
        guard pool.width > 1, g.batch >= 2, g.outputPositions * g.patchSize >= 1 << 15 else {
            weightGradientSerial(g, x: x, dy: dy, dw: dw)
            return
        }
        var partial = [Float](repeating: 0, count: cells)
        partial.withUnsafeMutableBufferPointer { pp in
            let second = SendableMutablePointer(pp.baseAddress!), out = SendableMutablePointer(dw)
            let px = SendablePointer(x), pdy = SendablePointer(dy)
            let half = g.batch / 2
            pool.run(tasks: 2) { t in
                var sub = g
                sub.batch = t == 0 ? half : g.batch - half
                let n0 = t == 0 ? 0 : half
                weightGradientSerial(sub, x: px.p + n0 * g.height * g.width * g.channels,
                                     dy: pdy.p + n0 * g.outHeight * g.outWidth * g.channels,
                                     dw: t == 0 ? out.p : second.p)
            }
            VectorKernels.axpy(count: cells, alpha: 1, x: pp.baseAddress!, y: dw)
        }
    }

    // MARK: - Serial kernels

    /// `a > 0 ? ⌈a / b⌉ : a / b` (Swift's division truncates, which is the ceiling for a ≤ 0).
    @inline(__always)
    static func ceilDiv(_ a: Int, _ b: Int) -> Int { a > 0 ? (a + b - 1) / b : a / b }

    static func forwardSerial(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        let c = g.channels, d = g.dilation, s = g.stride
        let oh1 = g.outHeight, ow1 = g.outWidth
        let taps = UnsafeMutablePointer<Int>.allocate(capacity: 2 * g.kernelHeight * g.kernelWidth)
        defer { taps.deallocate() }
        var out = y
        for n in 0..<g.batch {
            let image = x + n * g.height * g.width * c
            for oh in 0..<oh1 {
                let top = oh * s - g.padTop
                let kiLo = max(0, ceilDiv(-top, d)), kiHi = min(g.kernelHeight, ceilDiv(g.height - top, d))
                for ow in 0..<ow1 {
                    let left = ow * s - g.padLeft
                    let kjLo = max(0, ceilDiv(-left, d)), kjHi = min(g.kernelWidth, ceilDiv(g.width - left, d))
                    var count = 0
                    if kiLo < kiHi && kjLo < kjHi {
                        for ki in kiLo..<kiHi {
                            for kj in kjLo..<kjHi {
                                taps[2 * count] = ((top + ki * d) * g.width + left + kj * d) * c
                                taps[2 * count + 1] = (ki * g.kernelWidth + kj) * c
                                count &+= 1
                            }
                        }
                    }
                    gather(channels: c, taps: taps, tapCount: count, a: image, w: weight, initial: bias, out: out)
                    out += c
                }
            }
        }
    }

    static func inputGradientSerial(_ g: ConvGeometry, dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    dx: UnsafeMutablePointer<Float>) {
        let c = g.channels, d = g.dilation, s = g.stride
        let kh = g.kernelHeight, kw = g.kernelWidth, oh1 = g.outHeight, ow1 = g.outWidth
        // Which (kernel row, output row) pairs reach each input row; the same for columns.
        let rows = UnsafeMutablePointer<Int>.allocate(capacity: 2 * kh * g.height + g.height)
        let cols = UnsafeMutablePointer<Int>.allocate(capacity: 2 * kw * g.width + g.width)
        let taps = UnsafeMutablePointer<Int>.allocate(capacity: 2 * kh * kw)
        defer { rows.deallocate(); cols.deallocate(); taps.deallocate() }
        reaching(size: g.height, out: oh1, kernel: kh, pad: g.padTop, stride: s, dilation: d, into: rows)
        reaching(size: g.width, out: ow1, kernel: kw, pad: g.padLeft, stride: s, dilation: d, into: cols)
        let rowEntry = 2 * kh + 1, colEntry = 2 * kw + 1
        var out = dx
        for n in 0..<g.batch {
            let grad = dy + n * oh1 * ow1 * c
            for ih in 0..<g.height {
                let r = rows + ih * rowEntry
                for iw in 0..<g.width {
                    let q = cols + iw * colEntry
                    var count = 0
                    for a in 0..<r[0] {
                        let ki = r[1 + 2 * a], oh = r[2 + 2 * a]
                        for b in 0..<q[0] {
                            let kj = q[1 + 2 * b], ow = q[2 + 2 * b]
                            taps[2 * count] = (oh * ow1 + ow) * c
                            taps[2 * count + 1] = (ki * kw + kj) * c
                            count &+= 1
                        }
                    }
                    gather(channels: c, taps: taps, tapCount: count, a: grad, w: weight, initial: nil, out: out)
                    out += c
                }
            }
        }
    }

    /// For each input index `i` in `0..<size`, writes `[count, k0, o0, k1, o1, …]` (stride
    /// `2·kernel + 1`): the kernel cells `k` and output indices `o` with `o·stride − pad + k·dilation == i`.
    static func reaching(size: Int, out: Int, kernel: Int, pad: Int, stride: Int, dilation: Int,
                         into table: UnsafeMutablePointer<Int>) {
        let entry = 2 * kernel + 1
        for i in 0..<size {
            let e = table + i * entry
            var count = 0
            for k in 0..<kernel {
                let t = i + pad - k * dilation
                if t < 0 || t % stride != 0 { continue }
                let o = t / stride
                if o >= out { continue }
                e[1 + 2 * count] = k
                e[2 + 2 * count] = o
                count += 1
            }
            e[0] = count
        }
    }

    static func weightGradientSerial(_ g: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                     dw: UnsafeMutablePointer<Float>) {
        let c = g.channels, d = g.dilation, s = g.stride
        let oh1 = g.outHeight, ow1 = g.outWidth
        for n in 0..<g.batch {
            let image = x + n * g.height * g.width * c
            let grad = dy + n * oh1 * ow1 * c
            for oh in 0..<oh1 {
                let top = oh * s - g.padTop
                let kiLo = max(0, ceilDiv(-top, d)), kiHi = min(g.kernelHeight, ceilDiv(g.height - top, d))
                if kiLo >= kiHi { continue }
                for ki in kiLo..<kiHi {
                    let ih = top + ki * d
                    for kj in 0..<g.kernelWidth {
                        // Output columns whose input column ow·s − padLeft + kj·d is inside the image.
                        let shift = kj * d - g.padLeft
                        let owLo = max(0, ceilDiv(-shift, s)), owHi = min(ow1, ceilDiv(g.width - shift, s))
                        if owLo >= owHi { continue }
                        dotAlongRow(channels: c, steps: owHi - owLo,
                                    a: image + (ih * g.width + owLo * s + shift) * c, aStride: s * c,
                                    b: grad + (oh * ow1 + owLo) * c, bStride: c,
                                    into: dw + (ki * g.kernelWidth + kj) * c)
                    }
                }
            }
        }
    }

    // MARK: - Channel loops

    /// `out[ch] = initial[ch] + Σ_t a[aOffset_t + ch] · w[wOffset_t + ch]` with
    /// `taps = [aOffset_0, wOffset_0, …]`, 32 then 8 channels at a time in registers.
    @inline(__always)
    static func gather(channels c: Int, taps: UnsafePointer<Int>, tapCount: Int, a: UnsafePointer<Float>,
                       w: UnsafePointer<Float>, initial: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let ar = UnsafeRawPointer(a), wr = UnsafeRawPointer(w), or = UnsafeMutableRawPointer(out)
        var ch = 0
        while ch + 32 <= c {
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
            if let initial {
                let ir = UnsafeRawPointer(initial + ch)
                s0 = ir.loadUnaligned(as: SIMD8<Float>.self)
                s1 = ir.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                s2 = ir.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                s3 = ir.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
            }
            var t = 0
            while t < tapCount {
                let ao = (taps[2 * t] + ch) * 4, wo = (taps[2 * t + 1] + ch) * 4
                s0 = s0.addingProduct(ar.loadUnaligned(fromByteOffset: ao, as: SIMD8<Float>.self),
                                      wr.loadUnaligned(fromByteOffset: wo, as: SIMD8<Float>.self))
                s1 = s1.addingProduct(ar.loadUnaligned(fromByteOffset: ao + 32, as: SIMD8<Float>.self),
                                      wr.loadUnaligned(fromByteOffset: wo + 32, as: SIMD8<Float>.self))
                s2 = s2.addingProduct(ar.loadUnaligned(fromByteOffset: ao + 64, as: SIMD8<Float>.self),
                                      wr.loadUnaligned(fromByteOffset: wo + 64, as: SIMD8<Float>.self))
                s3 = s3.addingProduct(ar.loadUnaligned(fromByteOffset: ao + 96, as: SIMD8<Float>.self),
                                      wr.loadUnaligned(fromByteOffset: wo + 96, as: SIMD8<Float>.self))
                t &+= 1
            }
            or.storeBytes(of: s0, toByteOffset: ch * 4, as: SIMD8<Float>.self)
            or.storeBytes(of: s1, toByteOffset: ch * 4 + 32, as: SIMD8<Float>.self)
            or.storeBytes(of: s2, toByteOffset: ch * 4 + 64, as: SIMD8<Float>.self)
            or.storeBytes(of: s3, toByteOffset: ch * 4 + 96, as: SIMD8<Float>.self)
            ch &+= 32
        }
        while ch + 8 <= c {
            var s0 = initial.map { UnsafeRawPointer($0 + ch).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8<Float>()
            var s1 = SIMD8<Float>()
            var t = 0
            // Two accumulators over alternate taps break the FMA latency chain.
            while t + 2 <= tapCount {
                s0 = s0.addingProduct(ar.loadUnaligned(fromByteOffset: (taps[2 * t] + ch) * 4, as: SIMD8<Float>.self),
                                      wr.loadUnaligned(fromByteOffset: (taps[2 * t + 1] + ch) * 4, as: SIMD8<Float>.self))
                s1 = s1.addingProduct(ar.loadUnaligned(fromByteOffset: (taps[2 * t + 2] + ch) * 4, as: SIMD8<Float>.self),
                                      wr.loadUnaligned(fromByteOffset: (taps[2 * t + 3] + ch) * 4, as: SIMD8<Float>.self))
                t &+= 2
            }
            if t < tapCount {
                s0 = s0.addingProduct(ar.loadUnaligned(fromByteOffset: (taps[2 * t] + ch) * 4, as: SIMD8<Float>.self),
                                      wr.loadUnaligned(fromByteOffset: (taps[2 * t + 1] + ch) * 4, as: SIMD8<Float>.self))
            }
            or.storeBytes(of: s0 + s1, toByteOffset: ch * 4, as: SIMD8<Float>.self)
            ch &+= 8
        }
        while ch < c {
            var acc = initial?[ch] ?? 0
            for t in 0..<tapCount { acc += a[taps[2 * t] + ch] * w[taps[2 * t + 1] + ch] }
            out[ch] = acc
            ch &+= 1
        }
    }

    /// `into[ch] += Σ_t a[t·aStride + ch] · b[t·bStride + ch]` over `steps` positions.
    @inline(__always)
    static func dotAlongRow(channels c: Int, steps: Int, a: UnsafePointer<Float>, aStride: Int,
                            b: UnsafePointer<Float>, bStride: Int, into dst: UnsafeMutablePointer<Float>) {
        let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b), dr = UnsafeMutableRawPointer(dst)
        var ch = 0
        while ch + 32 <= c {
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
            var ao = ch * 4, bo = ch * 4
            for _ in 0..<steps {
                s0 = s0.addingProduct(ar.loadUnaligned(fromByteOffset: ao, as: SIMD8<Float>.self),
                                      br.loadUnaligned(fromByteOffset: bo, as: SIMD8<Float>.self))
                s1 = s1.addingProduct(ar.loadUnaligned(fromByteOffset: ao + 32, as: SIMD8<Float>.self),
                                      br.loadUnaligned(fromByteOffset: bo + 32, as: SIMD8<Float>.self))
                s2 = s2.addingProduct(ar.loadUnaligned(fromByteOffset: ao + 64, as: SIMD8<Float>.self),
                                      br.loadUnaligned(fromByteOffset: bo + 64, as: SIMD8<Float>.self))
                s3 = s3.addingProduct(ar.loadUnaligned(fromByteOffset: ao + 96, as: SIMD8<Float>.self),
                                      br.loadUnaligned(fromByteOffset: bo + 96, as: SIMD8<Float>.self))
                ao &+= aStride * 4; bo &+= bStride * 4
            }
            let o = ch * 4
            dr.storeBytes(of: dr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + s0, toByteOffset: o, as: SIMD8<Float>.self)
            dr.storeBytes(of: dr.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self) + s1, toByteOffset: o + 32, as: SIMD8<Float>.self)
            dr.storeBytes(of: dr.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self) + s2, toByteOffset: o + 64, as: SIMD8<Float>.self)
            dr.storeBytes(of: dr.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self) + s3, toByteOffset: o + 96, as: SIMD8<Float>.self)
            ch &+= 32
        }
        while ch + 8 <= c {
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
            var ao = ch * 4, bo = ch * 4
            var t = 0
            while t + 2 <= steps {
                s0 = s0.addingProduct(ar.loadUnaligned(fromByteOffset: ao, as: SIMD8<Float>.self),
                                      br.loadUnaligned(fromByteOffset: bo, as: SIMD8<Float>.self))
                s1 = s1.addingProduct(ar.loadUnaligned(fromByteOffset: ao + aStride * 4, as: SIMD8<Float>.self),
                                      br.loadUnaligned(fromByteOffset: bo + bStride * 4, as: SIMD8<Float>.self))
                ao &+= 2 * aStride * 4; bo &+= 2 * bStride * 4
                t &+= 2
            }
            if t < steps {
                s0 = s0.addingProduct(ar.loadUnaligned(fromByteOffset: ao, as: SIMD8<Float>.self),
                                      br.loadUnaligned(fromByteOffset: bo, as: SIMD8<Float>.self))
            }
            let o = ch * 4
            dr.storeBytes(of: dr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + s0 + s1, toByteOffset: o, as: SIMD8<Float>.self)
            ch &+= 8
        }
        while ch < c {
            var acc: Float = 0
            for t in 0..<steps { acc += a[t * aStride + ch] * b[t * bStride + ch] }
            dst[ch] += acc
            ch &+= 1
        }
    }
}
