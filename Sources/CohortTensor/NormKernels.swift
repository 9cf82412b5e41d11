/// SIMD, two-thread loops over channels-last `rows × channels` matrices: per-channel sums,
/// BatchNorm's normalisation and backward, and a per-channel affine map with optional ReLU
/// (BatchNorm folded for inference).
///
/// Channels are contiguous, so each row is processed eight channels at a time; rows are split
/// across the `WorkerPool` when the matrix is large. Every function reads and writes only the
/// rows of its slice, so the slices never share memory (reductions keep one partial per slice).
public enum NormKernels {
    /// Matrices with fewer elements than this run on the calling thread only.
    static let parallelElements = 1 << 15

    /// Calls `body(task, firstRow, endRow)` for disjoint row slices covering `0..<rows`, on two
    /// threads when the matrix has at least `parallelElements` elements; returns the number of
    /// slices used (`task` runs over `0..<slices`).
    @discardableResult
    public static func forRowSlices(rows: Int, channels: Int, _ body: (Int, Int, Int) -> Void) -> Int {
        let pool = WorkerPool.shared
        let tasks = pool.width > 1 && rows >= 2 && rows * channels >= parallelElements ? min(pool.width, 2) : 1
        if tasks == 1 {
            body(0, 0, rows)
            return 1
        }
        pool.run(tasks: tasks) { t in body(t, rows * t / tasks, rows * (t + 1) / tasks) }
        return tasks
    }

    /// How many slices `forRowSlices` uses for this matrix (the number of partials a reduction
    /// needs).
    public static func sliceCount(rows: Int, channels: Int) -> Int {
        WorkerPool.shared.width > 1 && rows >= 2 && rows * channels >= parallelElements ? 2 : 1
    }

    /// Per-channel sum and sum of squares of `x` (`rows × c`), accumulated in Double (blocks
    /// of 64 rows are summed in Float first), written to `sum` and `sumSquares` (`c` each).
    public static func channelSums(rows: Int, channels c: Int, x: UnsafePointer<Float>,
                                   sum: UnsafeMutablePointer<Double>, sumSquares: UnsafeMutablePointer<Double>) {
        let slices = sliceCount(rows: rows, channels: c)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c * slices)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: 2 * c * slices)
        let px = SendablePointer(x), pp = SendableDoublePointer(partial)
        forRowSlices(rows: rows, channels: c) { t, lo, hi in
            sumsSerial(rows: lo..<hi, channels: c, x: px.p, sum: pp.p + 2 * c * t, sumSquares: pp.p + 2 * c * t + c)
        }
        for j in 0..<c {
            var s = 0.0, q = 0.0
            for t in 0..<slices { s += partial[2 * c * t + j]; q += partial[2 * c * t + c + j] }
            sum[j] = s
            sumSquares[j] = q
        }
    }

    private static func sumsSerial(rows: Range<Int>, channels c: Int, x: UnsafePointer<Float>,
                                   sum: UnsafeMutablePointer<Double>, sumSquares: UnsafeMutablePointer<Double>) {
        let block = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
        defer { block.deallocate() }
        let s = UnsafeMutableRawPointer(block), q = UnsafeMutableRawPointer(block + c)
        var r0 = rows.lowerBound
        while r0 < rows.upperBound {
            let r1 = min(r0 + 64, rows.upperBound)
            block.update(repeating: 0, count: 2 * c)
            for r in r0..<r1 {
                let row = UnsafeRawPointer(x + r * c)
                var j = 0
                while j + 8 <= c {
                    let v = row.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                    let sv = s.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                    let qv = q.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                    s.storeBytes(of: sv + v, toByteOffset: j * 4, as: SIMD8<Float>.self)
                    q.storeBytes(of: qv.addingProduct(v, v), toByteOffset: j * 4, as: SIMD8<Float>.self)
                    j &+= 8
                }
                while j < c {
                    let v = x[r * c + j]
                    block[j] += v
                    block[c + j] += v * v
                    j &+= 1
                }
            }
            for j in 0..<c {
                sum[j] += Double(block[j])
                sumSquares[j] += Double(block[c + j])
            }
            r0 = r1
        }
    }

    /// BatchNorm's training forward: `x̂ = (x − mean)·invStd`, stored in `normalized` when it
    /// is not nil, and `y = γ·x̂ + β`.
    public static func normalize(rows: Int, channels c: Int, x: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                 inverseStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                 normalized: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        let px = SendablePointer(x), pm = SendablePointer(mean), pi = SendablePointer(inverseStd)
        let pg = SendablePointer(gamma), pb = SendablePointer(beta), py = SendableMutablePointer(y)
        let pn = normalized.map(SendableMutablePointer.init)
        forRowSlices(rows: rows, channels: c) { _, lo, hi in
            let m = UnsafeRawPointer(pm.p), iv = UnsafeRawPointer(pi.p), g = UnsafeRawPointer(pg.p), b = UnsafeRawPointer(pb.p)
            for r in lo..<hi {
                let xr = UnsafeRawPointer(px.p + r * c), yr = UnsafeMutableRawPointer(py.p + r * c)
                let nr = pn.map { UnsafeMutableRawPointer($0.p + r * c) }
                var j = 0
                while j + 8 <= c {
                    let o = j * 4
                    let xh = (xr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                              - m.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                        * iv.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                    nr?.storeBytes(of: xh, toByteOffset: o, as: SIMD8<Float>.self)
                    let out = b.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                        .addingProduct(g.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), xh)
                    yr.storeBytes(of: out, toByteOffset: o, as: SIMD8<Float>.self)
                    j &+= 8
                }
                while j < c {
                    let xh = (px.p[r * c + j] - pm.p[j]) * pi.p[j]
                    pn?.p[r * c + j] = xh
                    py.p[r * c + j] = pg.p[j] * xh + pb.p[j]
                    j &+= 1
                }
            }
        }
    }

    /// `y = x·scale + shift` per channel, then `max(·, 0)` when `relu`. `y` may equal `x`.
    public static func affine(rows: Int, channels c: Int, x: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                              shift: UnsafePointer<Float>, relu: Bool, y: UnsafeMutablePointer<Float>) {
        let px = SendablePointer(x), ps = SendablePointer(scale), pt = SendablePointer(shift), py = SendableMutablePointer(y)
        forRowSlices(rows: rows, channels: c) { _, lo, hi in
            let s = UnsafeRawPointer(ps.p), t = UnsafeRawPointer(pt.p)
            let zero = SIMD8<Float>(repeating: 0)
            for r in lo..<hi {
                let xr = UnsafeRawPointer(px.p + r * c), yr = UnsafeMutableRawPointer(py.p + r * c)
                var j = 0
                while j + 8 <= c {
                    let o = j * 4
                    var v = t.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                        .addingProduct(xr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
                                       s.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                    if relu { v = v.replacing(with: zero, where: v .< zero) }
                    yr.storeBytes(of: v, toByteOffset: o, as: SIMD8<Float>.self)
                    j &+= 8
                }
                while j < c {
                    let v = px.p[r * c + j] * ps.p[j] + pt.p[j]
                    py.p[r * c + j] = relu && v < 0 ? 0 : v
                    j &+= 1
                }
            }
        }
    }

    /// BatchNorm's backward sums: `sumDy[j] = Σ dy`, `sumDyXh[j] = Σ dy·x̂` over rows
    /// (written, not added; Float blocks of 64 rows added in Double).
    public static func backwardSums(rows: Int, channels c: Int, dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>,
                                    sumDy: UnsafeMutablePointer<Float>, sumDyXh: UnsafeMutablePointer<Float>) {
        let slices = sliceCount(rows: rows, channels: c)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c * slices)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: 2 * c * slices)
        let pd = SendablePointer(dy), pn = SendablePointer(normalized), pp = SendableDoublePointer(partial)
        forRowSlices(rows: rows, channels: c) { t, lo, hi in
            let block = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
            defer { block.deallocate() }
            let s = UnsafeMutableRawPointer(block), q = UnsafeMutableRawPointer(block + c)
            let out = pp.p + 2 * c * t
            var r0 = lo
            while r0 < hi {
                let r1 = min(r0 + 64, hi)
                block.update(repeating: 0, count: 2 * c)
                for r in r0..<r1 {
                    let dr = UnsafeRawPointer(pd.p + r * c), nr = UnsafeRawPointer(pn.p + r * c)
                    var j = 0
                    while j + 8 <= c {
                        let o = j * 4
                        let d = dr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                        let n = nr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                        s.storeBytes(of: s.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + d, toByteOffset: o, as: SIMD8<Float>.self)
                        q.storeBytes(of: q.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self).addingProduct(d, n),
                                     toByteOffset: o, as: SIMD8<Float>.self)
                        j &+= 8
                    }
                    while j < c {
                        block[j] += pd.p[r * c + j]
                        block[c + j] += pd.p[r * c + j] * pn.p[r * c + j]
                        j &+= 1
                    }
                }
                for j in 0..<c { out[j] += Double(block[j]); out[c + j] += Double(block[c + j]) }
                r0 = r1
            }
        }
        for j in 0..<c {
            var s = 0.0, q = 0.0
            for t in 0..<slices { s += partial[2 * c * t + j]; q += partial[2 * c * t + c + j] }
            sumDy[j] = Float(s)
            sumDyXh[j] = Float(q)
        }
    }

    /// BatchNorm's training input gradient: `dx = scale·(dy − meanDy − x̂·meanDyXh)` per channel,
    /// where `scale = γ·invStd` and the means are the backward sums divided by the row count.
    public static func backwardInput(rows: Int, channels c: Int, dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>,
                                     scale: UnsafePointer<Float>, meanDy: UnsafePointer<Float>, meanDyXh: UnsafePointer<Float>,
                                     dx: UnsafeMutablePointer<Float>) {
        let pd = SendablePointer(dy), pn = SendablePointer(normalized), ps = SendablePointer(scale)
        let pa = SendablePointer(meanDy), pb = SendablePointer(meanDyXh), px = SendableMutablePointer(dx)
        forRowSlices(rows: rows, channels: c) { _, lo, hi in
            let s = UnsafeRawPointer(ps.p), a = UnsafeRawPointer(pa.p), b = UnsafeRawPointer(pb.p)
            for r in lo..<hi {
                let dr = UnsafeRawPointer(pd.p + r * c), nr = UnsafeRawPointer(pn.p + r * c)
                let xr = UnsafeMutableRawPointer(px.p + r * c)
                var j = 0
                while j + 8 <= c {
                    let o = j * 4
                    let d = dr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                        - a.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                        - nr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * b.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                    xr.storeBytes(of: d * s.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), toByteOffset: o, as: SIMD8<Float>.self)
                    j &+= 8
                }
                while j < c {
                    let i = r * c + j
                    px.p[i] = ps.p[j] * (pd.p[i] - pa.p[j] - pn.p[i] * pb.p[j])
                    j &+= 1
                }
            }
        }
    }
}

/// A Double pointer that may cross to a worker thread; each slice writes its own part.
struct SendableDoublePointer: @unchecked Sendable {
    let p: UnsafeMutablePointer<Double>
    init(_ p: UnsafeMutablePointer<Double>) { self.p = p }
}
