/// SIMD loops over raw float buffers, shared by layers and optimizers.
public enum VectorKernels {
    /// `y += alpha · x` over `count` elements.
    @inlinable
    public static func axpy(count: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        var i = 0
        let a = SIMD8<Float>(repeating: alpha)
        let xr = UnsafeRawPointer(x), yr = UnsafeMutableRawPointer(y)
        while i + 8 <= count {
            let xv = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let yv = yr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            yr.storeBytes(of: yv.addingProduct(a, xv), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < count { y[i] += alpha * x[i]; i &+= 1 }
    }

    /// True when no element is NaN or infinite. Branch-free: `x·0` is NaN exactly for
    /// non-finite `x`, so one SIMD sum of `x·0` answers for the whole buffer.
    @inlinable
    public static func allFinite(_ p: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = p.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= p.count {
            acc0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * 0
            acc1 += raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self) * 0
            i &+= 16
        }
        var tail: Float = 0
        while i < p.count { tail += p[i] * 0; i &+= 1 }
        return (acc0 + acc1).sum() + tail == 0
    }

    /// The largest |x| in `p` (0 when empty), or nil when an element is NaN or infinite. One
    /// integer max over the magnitude bits: finite floats' magnitudes order as their bits do,
    /// and every NaN or infinity is above the largest finite one.
    @inlinable
    public static func largestMagnitude(_ p: UnsafeBufferPointer<Float>) -> Float? {
        guard let base = p.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        let mask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var m0 = SIMD8<UInt32>(), m1 = SIMD8<UInt32>()
        var i = 0
        while i + 16 <= p.count {
            m0 = pointwiseMax(m0, raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<UInt32>.self) & mask)
            m1 = pointwiseMax(m1, raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<UInt32>.self) & mask)
            i &+= 16
        }
        var worst = pointwiseMax(m0, m1).max()
        while i < p.count { worst = max(worst, p[i].bitPattern & 0x7FFF_FFFF); i &+= 1 }
        return worst >= 0x7F80_0000 ? nil : Float(bitPattern: worst)
    }

    /// Writes `row` (`cols` values) into every row of a `rows × cols` matrix (a bias that a
    /// GEMM with beta = 1 then accumulates onto), split over two threads when large: done on
    /// one thread it left the other idle while it wrote every projection's whole output.
    public static func fillRows(rows: Int, cols: Int, row: UnsafePointer<Float>, into m: UnsafeMutablePointer<Float>) {
        let src = SendablePointer(row), dst = SendableMutablePointer(m)
        NormKernels.forRowSlices(rows: rows, channels: cols) { _, lo, hi in
            for r in lo..<hi { (dst.p + r * cols).update(from: src.p, count: cols) }
        }
    }

    /// `z = x + y` over `count` values, split over two threads when large.
    public static func sum(count: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>) {
        let px = SendablePointer(x), py = SendablePointer(y), pz = SendableMutablePointer(z)
        let chunks = (count + 7) / 8
        NormKernels.forRowSlices(rows: chunks, channels: 8) { _, lo, hi in
            for i in (lo * 8)..<min(hi * 8, count) { pz.p[i] = px.p[i] + py.p[i] }
        }
    }

    /// Adds `bias[j]` to every row of a `rows × cols` matrix.
    @inlinable
    public static func addRowVector(rows: Int, cols: Int, bias: UnsafePointer<Float>, to m: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { axpy(count: cols, alpha: 1, x: bias, y: m + r * cols) }
    }
}

extension VectorKernels {
    /// SGD with momentum, in place: `d = g + λw; v = μv + d; w −= lr·(nesterov ? d + μv : v)`.
    @inlinable
    public static func sgdMomentumStep(count: Int, learningRate lr: Float, momentum mu: Float, weightDecay wd: Float,
                                       nesterov: Bool, weights w: UnsafeMutablePointer<Float>,
                                       gradient g: UnsafePointer<Float>, velocity v: UnsafeMutablePointer<Float>) {
        let lrv = SIMD8<Float>(repeating: lr), muv = SIMD8<Float>(repeating: mu), wdv = SIMD8<Float>(repeating: wd)
        let wr = UnsafeMutableRawPointer(w), gr = UnsafeRawPointer(g), vr = UnsafeMutableRawPointer(v)
        var i = 0
        while i + 8 <= count {
            let off = i * 4
            let wv = wr.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
            let d = gr.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self).addingProduct(wdv, wv)
            let newV = d.addingProduct(muv, vr.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self))
            vr.storeBytes(of: newV, toByteOffset: off, as: SIMD8<Float>.self)
            let step = nesterov ? d.addingProduct(muv, newV) : newV
            wr.storeBytes(of: wv.addingProduct(-lrv, step), toByteOffset: off, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < count {
            let d = g[i] + wd * w[i]
            v[i] = mu * v[i] + d
            w[i] -= lr * (nesterov ? d + mu * v[i] : v[i])
            i &+= 1
        }
    }
}

extension VectorKernels {
    /// `y = max(x, 0)` elementwise (`y` may equal `x`), split across the worker pool when large.
    public static func relu(count: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let px = SendablePointer(x), py = SendableMutablePointer(y)
        NormKernels.forRowSlices(rows: count, channels: 1) { _, lo, hi in
            let xr = UnsafeRawPointer(px.p), yr = UnsafeMutableRawPointer(py.p)
            let zero = SIMD8<Float>(repeating: 0)
            var i = lo
            while i + 8 <= hi {
                let v = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                yr.storeBytes(of: v.replacing(with: zero, where: v .< zero), toByteOffset: i * 4, as: SIMD8<Float>.self)
                i &+= 8
            }
            while i < hi { py.p[i] = px.p[i] < 0 ? 0 : px.p[i]; i &+= 1 }
        }
    }

    /// ReLU's backward: `dx = x > 0 ? dy : 0` elementwise, split across the pool when large.
    public static func reluBackward(count: Int, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let px = SendablePointer(x), pg = SendablePointer(dy), pd = SendableMutablePointer(dx)
        NormKernels.forRowSlices(rows: count, channels: 1) { _, lo, hi in
            let xr = UnsafeRawPointer(px.p), gr = UnsafeRawPointer(pg.p), dr = UnsafeMutableRawPointer(pd.p)
            let zero = SIMD8<Float>(repeating: 0)
            var i = lo
            while i + 8 <= hi {
                let v = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let g = gr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                dr.storeBytes(of: g.replacing(with: zero, where: v .<= zero), toByteOffset: i * 4, as: SIMD8<Float>.self)
                i &+= 8
            }
            while i < hi { pd.p[i] = px.p[i] > 0 ? pg.p[i] : 0; i &+= 1 }
        }
    }
}
