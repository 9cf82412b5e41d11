import Foundation

/// Winograd F(2×2, 3×3) convolution on channels-last (NHWC) data: 3×3 kernels, stride 1,
/// dilation 1, one group, any padding.
///
/// The output is cut into 2×2 tiles; tile `t` reads the 4×4 input patch whose top-left cell is
/// `(2i − padTop, 2j − padLeft)` (cells outside the image read as zero). With the standard
/// matrices (Lavin & Gray 2016)
///
///     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
///     G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
///     Aᵀ = [1 1 1 0; 0 1 −1 −1]
///
/// one tile's output is `Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`. Summed over input channels, each of the
/// 16 transform positions ξ is one matrix product `M[ξ] = V[ξ]·U[ξ]ᵀ` with `V[ξ]` the
/// `tiles × in` transformed inputs and `U[ξ]` the `out × in` transformed weights: 16 products
/// of `tiles·in·out` multiply-adds instead of im2col's `4·tiles × 9·in × out`, 2.25× fewer.
///
/// Layouts: `V` is `[16][tiles][in]`, `U` is `[16][out][in]`, `M` is `[16][tiles][out]`.
/// The backward kernels are the exact adjoints of the forward steps, so the gradients are
/// those of the computation the forward pass did.
public enum WinogradKernels {
    /// Process-wide switch: `COHORT_WINOGRAD=0` in the environment turns the Winograd path off
    /// so benchmarks can compare it with im2col in one binary. Layers also have their own flag.
    public nonisolated(unsafe) static var enabled: Bool = ProcessInfo.processInfo.environment["COHORT_WINOGRAD"] != "0"

    /// Convolutions whose forward a backward pass follows use Winograd only from this many
    /// tiles (`tileCount`) up: with few tiles the per-step weight transform and the thin
    /// weight-gradient products cost more than the multiply-adds saved.
    /// `COHORT_WINOGRAD_MIN_TILES` overrides it.
    public nonisolated(unsafe) static var minTrainingTiles: Int =
        ProcessInfo.processInfo.environment["COHORT_WINOGRAD_MIN_TILES"].flatMap { Int($0) } ?? 0

    /// True when `g` is a convolution this path computes: a 3×3 kernel, stride 1, dilation 1,
    /// and at least one output cell. (Groups are the caller's business: only `groups == 1`.)
    public static func applies(to g: ConvGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.dilation == 1 && g.isValid
            && g.outHeight > 0 && g.outWidth > 0 && g.batch > 0 && g.channels > 0
    }

    /// 2×2 tiles over the output of one image: `(rows, columns)`.
    public static func tileGrid(_ g: ConvGeometry) -> (rows: Int, cols: Int) {
        ((g.outHeight + 1) / 2, (g.outWidth + 1) / 2)
    }

    /// Tiles over the whole batch.
    public static func tileCount(_ g: ConvGeometry) -> Int {
        let grid = tileGrid(g)
        return g.batch * grid.rows * grid.cols
    }

    // MARK: - Weights

    /// `kron(G, G)`: row ξ = 4r + s, column 3i + j holds `G[r][i]·G[s][j]`, so a kernel's
    /// nine weights (row-major) map to its sixteen transformed ones in one product.
    static let weightMatrix: [Float] = {
        let gm: [[Float]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        var t = [Float](repeating: 0, count: 16 * 9)
        for r in 0..<4 { for s in 0..<4 { for i in 0..<3 { for j in 0..<3 { t[(r * 4 + s) * 9 + i * 3 + j] = gm[r][i] * gm[s][j] } } } }
        return t
    }()

    /// `U[ξ][o][c] = (G g Gᵀ)[ξ]` for the PyTorch-layout weight `w` `[out, in, 3, 3]`; `u` holds
    /// `16 · out · in` floats. One streaming product `[16 × 9]·wᵀ`: each `[out, in]` plane of
    /// `U` lists the kernels in the weight's own order.
    public static func transformWeights(_ w: UnsafePointer<Float>, out: Int, inChannels: Int, into u: UnsafeMutablePointer<Float>) {
        let kernels = out * inChannels
        weightMatrix.withUnsafeBufferPointer { t in
            Gemm.multiply(transA: false, transB: true, m: 16, n: kernels, k: 9, a: t.baseAddress!, lda: 9,
                          b: w, ldb: 9, c: u, ldc: kernels)
        }
    }

    /// Adds `Gᵀ dU[·][o][c] G` to the PyTorch-layout weight gradient `dw` `[out, in, 3, 3]`:
    /// the adjoint of `transformWeights`, `dw += dUᵀ·[16 × 9]`.
    public static func addWeightGradient(_ du: UnsafePointer<Float>, out: Int, inChannels: Int, into dw: UnsafeMutablePointer<Float>) {
        let kernels = out * inChannels
        weightMatrix.withUnsafeBufferPointer { t in
            Gemm.multiply(transA: true, transB: false, m: kernels, n: 9, k: 16, a: du, lda: kernels,
                          b: t.baseAddress!, ldb: 9, beta: 1, c: dw, ldc: 9)
        }
    }

    // MARK: - Whole passes

    /// `y = conv(x, w) (+ bias)`, then `y·scale + shift` and ReLU when given, for NHWC `x` and
    /// transformed weights `u` (`transformWeights`). `y` holds `outputPositions · out` floats.
    public static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, u: UnsafePointer<Float>, out: Int,
                               bias: UnsafePointer<Float>?, scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil,
                               relu: Bool = false, y: UnsafeMutablePointer<Float>) {
        let tiles = tileCount(g)
        ScratchBuffers.with(count: 16 * tiles * g.channels) { v in
            forward(g, x: x, v: v, u: u, out: out, bias: bias, scale: scale, shift: shift, relu: relu, y: y)
        }
    }

    /// `forward` that leaves the transformed input in `v` (`16 · tiles · in` floats), for a
    /// backward pass to reuse.
    public static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>, u: UnsafePointer<Float>,
                               out: Int, bias: UnsafePointer<Float>?, scale: UnsafePointer<Float>? = nil,
                               shift: UnsafePointer<Float>? = nil, relu: Bool = false, y: UnsafeMutablePointer<Float>) {
        let tiles = tileCount(g), c = g.channels
        inputTransform(g, x: x, v: v)
        ScratchBuffers.with(count: 16 * tiles * out) { m in
            multiply16(transA: false, transB: true, m: tiles, n: out, k: c, a: v, lda: c, b: u, ldb: c, c: m, ldc: out)
            outputTransform(g, out: out, m: m, bias: bias, scale: scale, shift: shift, relu: relu, y: y)
        }
    }

    /// Backward of `forward` given its saved transformed input `v`: adds the weight gradient to
    /// `dw` (PyTorch layout) when given, and writes the input gradient to `dx` when given (the
    /// caller zeroes `dx`). `v` is overwritten.
    public static func backward(_ g: ConvGeometry, dy: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>, u: UnsafePointer<Float>,
                                out: Int, dw: UnsafeMutablePointer<Float>?, dx: UnsafeMutablePointer<Float>?) {
        let tiles = tileCount(g), c = g.channels
        ScratchBuffers.with(count: 16 * tiles * out) { dm in
            outputGradientTransform(g, out: out, dy: dy, dm: dm)
            if let dw {
                ScratchBuffers.with(count: 16 * c * out) { du in
                    multiply16(transA: true, transB: false, m: out, n: c, k: tiles, a: dm, lda: out, b: v, ldb: c, c: du, ldc: c)
                    addWeightGradient(du, out: out, inChannels: c, into: dw)
                }
            }
            if let dx {
                // V is dead once the weight gradient is taken: it holds dV = dM·U now.
                multiply16(transA: false, transB: false, m: tiles, n: c, k: out, a: dm, lda: out, b: u, ldb: c, c: v, ldc: c)
                inputGradientTransform(g, dv: v, dx: dx)
            }
        }
    }

    /// The 16 products `C[ξ] = op(A[ξ])·op(B[ξ])`, each matrix packed tightly after the previous
    /// one; two threads take eight each when the work is large.
    static func multiply16(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                           b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let aStep = m * k, bStep = k * n, cStep = m * n
        let pool = WorkerPool.shared
        let pa = SendablePointer(a), pb = SendablePointer(b), pc = SendableMutablePointer(c)
        let one = { (xi: Int, threads: Int) in
            Gemm.multiply(transA: transA, transB: transB, m: m, n: n, k: k, a: pa.p + xi * aStep, lda: lda,
                          b: pb.p + xi * bStep, ldb: ldb, c: pc.p + xi * cStep, ldc: ldc, threads: threads)
        }
        if pool.width > 1 && 16 * m * n * k >= Gemm.parallelThreshold && Gemm.parallelThreshold < Int.max {
            pool.run(tasks: 2) { t in for xi in (t * 8)..<(t * 8 + 8) { one(xi, 1) } }
        } else {
            for xi in 0..<16 { one(xi, 1) }
        }
    }

    // MARK: - Transforms

    /// Runs `body(firstImage, images)` over halves of the batch on two threads when it pays.
    static func forImageSlices(_ g: ConvGeometry, work: Int, _ body: (Int, Int) -> Void) {
        let pool = WorkerPool.shared
        guard pool.width > 1, g.batch >= 2, work >= 1 << 15, Gemm.parallelThreshold < Int.max else {
            body(0, g.batch)
            return
        }
        let half = g.batch / 2
        pool.run(tasks: 2) { t in body(t == 0 ? 0 : half, t == 0 ? half : g.batch - half) }
    }

    /// `V[ξ][t][·] = (Bᵀ d B)[ξ]` for every tile `t`.
    public static func inputTransform(_ g: ConvGeometry, x: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>) {
        let c = g.channels, plane = tileCount(g) * c, grid = tileGrid(g)
        let px = SendablePointer(x), pv = SendableMutablePointer(v)
        let zeros = [Float](repeating: 0, count: c)
        zeros.withUnsafeBufferPointer { zb in
            let pz = SendablePointer(zb.baseAddress!)
            forImageSlices(g, work: plane * 16) { n0, count in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 16) { cells in
                    for n in n0..<(n0 + count) {
                        let image = px.p + n * g.height * g.width * c
                        for i in 0..<grid.rows {
                            for j in 0..<grid.cols {
                                let h0 = 2 * i - g.padTop, w0 = 2 * j - g.padLeft
                                for a in 0..<4 {
                                    for b in 0..<4 {
                                        let h = h0 + a, w = w0 + b
                                        let inside = h >= 0 && h < g.height && w >= 0 && w < g.width
                                        cells[a * 4 + b] = inside ? image + (h * g.width + w) * c : pz.p
                                    }
                                }
                                let dst = pv.p + ((n * grid.rows + i) * grid.cols + j) * c
                                var k = 0
                                while k + 8 <= c {
                                    inputTile({ load8(cells[$0] + k) }, { store8($1, dst + $0 * plane + k) })
                                    k += 8
                                }
                                if k < c {
                                    let rest = c - k
                                    inputTile({ loadPartial(cells[$0] + k, rest) }, { storePartial($1, dst + $0 * plane + k, rest) })
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `y` (NHWC, every output cell) from `M`: `Aᵀ m A` per tile, plus the bias, then the
    /// affine `·scale + shift` and ReLU when given.
    public static func outputTransform(_ g: ConvGeometry, out: Int, m: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                       scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, relu: Bool,
                                       y: UnsafeMutablePointer<Float>) {
        let plane = tileCount(g) * out, grid = tileGrid(g), oh = g.outHeight, ow = g.outWidth
        let pm = SendablePointer(m), py = SendableMutablePointer(y)
        let pb = bias.map(SendablePointer.init), ps = scale.map(SendablePointer.init), pt = shift.map(SendablePointer.init)
        forImageSlices(g, work: plane * 16) { n0, count in
            for n in n0..<(n0 + count) {
                for i in 0..<grid.rows {
                    for j in 0..<grid.cols {
                        let src = pm.p + ((n * grid.rows + i) * grid.cols + j) * out
                        let rows = min(2, oh - 2 * i), cols = min(2, ow - 2 * j)
                        let corner = py.p + ((n * oh + 2 * i) * ow + 2 * j) * out
                        var k = 0
                        while k < out {
                            let width = min(8, out - k)
                            @inline(__always) func lanes(_ p: UnsafePointer<Float>) -> Lane {
                                width == 8 ? load8(p) : loadPartial(p, width)
                            }
                            let bk = pb.map { lanes($0.p + k) } ?? Lane.zero
                            let sk = ps.map { lanes($0.p + k) }, tk = pt.map { lanes($0.p + k) }
                            outputTile({ lanes(src + $0 * plane + k) }) { r, s, value in
                                guard r < rows && s < cols else { return }
                                var e = value + bk
                                if let sk, let tk { e = tk.addingProduct(e, sk) }
                                if relu { e = e.replacing(with: Lane.zero, where: e .< Lane.zero) }
                                let dst = corner + (r * ow + s) * out + k
                                if width == 8 { store8(e, dst) } else { storePartial(e, dst, width) }
                            }
                            k += 8
                        }
                    }
                }
            }
        }
    }

    /// `dM[ξ][t][·] = (A dy Aᵀ)[ξ]`: the adjoint of `outputTransform` without its bias (cells
    /// of a tile past the output edge count as zero).
    public static func outputGradientTransform(_ g: ConvGeometry, out: Int, dy: UnsafePointer<Float>, dm: UnsafeMutablePointer<Float>) {
        let plane = tileCount(g) * out, grid = tileGrid(g), oh = g.outHeight, ow = g.outWidth
        let pdy = SendablePointer(dy), pm = SendableMutablePointer(dm)
        let zeros = [Float](repeating: 0, count: out)
        zeros.withUnsafeBufferPointer { zb in
            let pz = SendablePointer(zb.baseAddress!)
            forImageSlices(g, work: plane * 16) { n0, count in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 4) { cells in
                    for n in n0..<(n0 + count) {
                        for i in 0..<grid.rows {
                            for j in 0..<grid.cols {
                                for r in 0..<2 {
                                    for s in 0..<2 {
                                        let h = 2 * i + r, w = 2 * j + s
                                        cells[r * 2 + s] = h < oh && w < ow ? pdy.p + ((n * oh + h) * ow + w) * out : pz.p
                                    }
                                }
                                let dst = pm.p + ((n * grid.rows + i) * grid.cols + j) * out
                                var k = 0
                                while k + 8 <= out {
                                    outputGradientTile({ load8(cells[$0] + k) }, { store8($1, dst + $0 * plane + k) })
                                    k += 8
                                }
                                if k < out {
                                    let rest = out - k
                                    outputGradientTile({ loadPartial(cells[$0] + k, rest) }, { storePartial($1, dst + $0 * plane + k, rest) })
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds `B dV Bᵀ` of every tile onto the NHWC input gradient `dx` (cells inside the image):
    /// the adjoint of `inputTransform`. Neighbouring tiles overlap, so each image is one thread's.
    public static func inputGradientTransform(_ g: ConvGeometry, dv: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let c = g.channels, plane = tileCount(g) * c, grid = tileGrid(g)
        let pv = SendablePointer(dv), pd = SendableMutablePointer(dx)
        forImageSlices(g, work: plane * 16) { n0, count in
            for n in n0..<(n0 + count) {
                let image = pd.p + n * g.height * g.width * c
                for i in 0..<grid.rows {
                    for j in 0..<grid.cols {
                        let h0 = 2 * i - g.padTop, w0 = 2 * j - g.padLeft
                        let src = pv.p + ((n * grid.rows + i) * grid.cols + j) * c
                        var k = 0
                        while k + 8 <= c {
                            inputGradientTile({ load8(src + $0 * plane + k) }) { a, b, value in
                                let h = h0 + a, w = w0 + b
                                guard h >= 0 && h < g.height && w >= 0 && w < g.width else { return }
                                let p = image + (h * g.width + w) * c + k
                                store8(load8(p) + value, p)
                            }
                            k += 8
                        }
                        if k < c {
                            let rest = c - k
                            inputGradientTile({ loadPartial(src + $0 * plane + k, rest) }) { a, b, value in
                                let h = h0 + a, w = w0 + b
                                guard h >= 0 && h < g.height && w >= 0 && w < g.width else { return }
                                let p = image + (h * g.width + w) * c + k
                                storePartial(loadPartial(p, rest) + value, p, rest)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - One tile, one lane group

    /// Eight channels of one cell: the tile transforms work on eight channels at once; a
    /// channel count that is not a multiple of eight ends with a partly filled group.
    typealias Lane = SIMD8<Float>

    /// The first `count` (< 8) floats at `p`, zeros after.
    @inline(__always) static func loadPartial(_ p: UnsafePointer<Float>, _ count: Int) -> Lane {
        var v = Lane.zero
        for l in 0..<count { v[l] = p[l] }
        return v
    }

    @inline(__always) static func storePartial(_ v: Lane, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        for l in 0..<count { p[l] = v[l] }
    }

    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// `Bᵀ d B` of one 4×4 tile: `d(a·4 + b)` reads cell (a, b), `store(ξ, value)` writes.
    @inline(__always)
    static func inputTile(_ d: (Int) -> Lane, _ store: (Int, Lane) -> Void) {
        // Bᵀ along the rows of each column: (a − c, b + c, c − b, b − e).
        let d00 = d(0), d01 = d(1), d02 = d(2), d03 = d(3)
        let d10 = d(4), d11 = d(5), d12 = d(6), d13 = d(7)
        let d20 = d(8), d21 = d(9), d22 = d(10), d23 = d(11)
        let d30 = d(12), d31 = d(13), d32 = d(14), d33 = d(15)
        let t00 = d00 - d20, t01 = d01 - d21, t02 = d02 - d22, t03 = d03 - d23
        let t10 = d10 + d20, t11 = d11 + d21, t12 = d12 + d22, t13 = d13 + d23
        let t20 = d20 - d10, t21 = d21 - d11, t22 = d22 - d12, t23 = d23 - d13
        let t30 = d10 - d30, t31 = d11 - d31, t32 = d12 - d32, t33 = d13 - d33
        // Then along the columns of each row.
        store(0, t00 - t02); store(1, t01 + t02); store(2, t02 - t01); store(3, t01 - t03)
        store(4, t10 - t12); store(5, t11 + t12); store(6, t12 - t11); store(7, t11 - t13)
        store(8, t20 - t22); store(9, t21 + t22); store(10, t22 - t21); store(11, t21 - t23)
        store(12, t30 - t32); store(13, t31 + t32); store(14, t32 - t31); store(15, t31 - t33)
    }

    /// `Aᵀ m A` of one tile: `m(ξ)` reads, `emit(r, s, value)` gets output cell (r, s).
    @inline(__always)
    static func outputTile(_ m: (Int) -> Lane, _ emit: (Int, Int, Lane) -> Void) {
        // Aᵀ along the rows of each column: (a + b + c, b − c − e).
        let m0 = m(0), m1 = m(1), m2 = m(2), m3 = m(3)
        let m4 = m(4), m5 = m(5), m6 = m(6), m7 = m(7)
        let m8 = m(8), m9 = m(9), m10 = m(10), m11 = m(11)
        let m12 = m(12), m13 = m(13), m14 = m(14), m15 = m(15)
        let a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11
        let b0 = m4 - m8 - m12, b1 = m5 - m9 - m13, b2 = m6 - m10 - m14, b3 = m7 - m11 - m15
        emit(0, 0, a0 + a1 + a2); emit(0, 1, a1 - a2 - a3)
        emit(1, 0, b0 + b1 + b2); emit(1, 1, b1 - b2 - b3)
    }

    /// `A dy Aᵀ` of one tile: `dy(r·2 + s)` reads output cell (r, s), `store(ξ, value)` writes.
    @inline(__always)
    static func outputGradientTile(_ dy: (Int) -> Lane, _ store: (Int, Lane) -> Void) {
        // A·(p, q) = (p, p + q, p − q, −q) along the rows of each column, then the columns.
        let p0 = dy(0), p1 = dy(1), q0 = dy(2), q1 = dy(3)
        let u0 = p0, u1 = p1
        let v0 = p0 + q0, v1 = p1 + q1
        let w0 = p0 - q0, w1 = p1 - q1
        let z0 = Lane.zero - q0, z1 = Lane.zero - q1
        store(0, u0); store(1, u0 + u1); store(2, u0 - u1); store(3, Lane.zero - u1)
        store(4, v0); store(5, v0 + v1); store(6, v0 - v1); store(7, Lane.zero - v1)
        store(8, w0); store(9, w0 + w1); store(10, w0 - w1); store(11, Lane.zero - w1)
        store(12, z0); store(13, z0 + z1); store(14, z0 - z1); store(15, Lane.zero - z1)
    }

    /// `B dv Bᵀ` of one tile: `dv(ξ)` reads, `emit(a, b, value)` gets input cell (a, b).
    @inline(__always)
    static func inputGradientTile(_ dv: (Int) -> Lane, _ emit: (Int, Int, Lane) -> Void) {
        // B·(a0, a1, a2, a3) = (a0, a1 − a2 + a3, a1 + a2 − a0, −a3) along the rows of each
        // column, then along the columns of each row.
        let v0 = dv(0), v1 = dv(1), v2 = dv(2), v3 = dv(3)
        let v4 = dv(4), v5 = dv(5), v6 = dv(6), v7 = dv(7)
        let v8 = dv(8), v9 = dv(9), v10 = dv(10), v11 = dv(11)
        let v12 = dv(12), v13 = dv(13), v14 = dv(14), v15 = dv(15)
        let r00 = v0, r01 = v1, r02 = v2, r03 = v3
        let r10 = v4 - v8 + v12, r11 = v5 - v9 + v13, r12 = v6 - v10 + v14, r13 = v7 - v11 + v15
        let r20 = v4 + v8 - v0, r21 = v5 + v9 - v1, r22 = v6 + v10 - v2, r23 = v7 + v11 - v3
        let r30 = Lane.zero - v12, r31 = Lane.zero - v13, r32 = Lane.zero - v14, r33 = Lane.zero - v15
        emit(0, 0, r00); emit(0, 1, r01 - r02 + r03); emit(0, 2, r01 + r02 - r00); emit(0, 3, Lane.zero - r03)
        emit(1, 0, r10); emit(1, 1, r11 - r12 + r13); emit(1, 2, r11 + r12 - r10); emit(1, 3, Lane.zero - r13)
        emit(2, 0, r20); emit(2, 1, r21 - r22 + r23); emit(2, 2, r21 + r22 - r20); emit(2, 3, Lane.zero - r23)
        emit(3, 0, r30); emit(3, 1, r31 - r32 + r33); emit(3, 2, r31 + r32 - r30); emit(3, 3, Lane.zero - r33)
    }
}

