/// Row-major single-precision matrix multiply, `C = alpha·op(A)·op(B) + beta·C`, where
/// `op(X)` is `X` or `Xᵀ`. This covers the three products backprop needs (A·B, Aᵀ·B, A·Bᵀ).
///
/// The kernel follows the Goto/BLIS scheme: B is packed into 16-column panels, A into 6-row
/// panels (or, when C is narrow, read in place: see `readsAInPlace`), blocked for the caches (`mc`×`kc` of A in L2, a `kc`×16 panel of B in L1), and a
/// 6×16 register tile of twelve `SIMD8<Float>` accumulators does the work with FMA.
/// Large products are split across the `WorkerPool`; tiny ones skip packing altogether.
public enum Gemm {
    /// Rows of the register tile.
    public static let mr = 6
    /// Columns of the register tile.
    public static let nr = 16
    static let mc = 144
    static let kc = 256
    static let nc = 3072
    /// Below this many multiply-adds a plain loop beats packing.
    static let packingThreshold = 6 * 16 * 16
    /// From this many multiply-adds the product is split across two threads.
    public nonisolated(unsafe) static var parallelThreshold = 32 * 1024

    /// Computes `C = alpha·op(A)·op(B) + beta·C` on raw row-major storage.
    ///
    /// - Parameters:
    ///   - transA: use `Aᵀ`; `A` is then stored `k×m`, else `m×k`. `lda` is its row stride.
    ///   - transB: use `Bᵀ`; `B` is then stored `n×k`, else `k×n`. `ldb` is its row stride.
    ///   - beta: when 0, `C` is not read (it may hold garbage).
    ///   - threads: how many threads to use at most; 0 picks by problem size.
    public static func multiply(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int = 0
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM dimensions must be non-negative: m=\(m) n=\(n) k=\(k)")
        precondition(lda >= (transA ? m : k) && ldb >= (transB ? k : n) && ldc >= n,
                     "GEMM leading dimensions too small: lda=\(lda) ldb=\(ldb) ldc=\(ldc) for m=\(m) n=\(n) k=\(k)")
        if m == 0 || n == 0 { return }
        if k == 0 || alpha == 0 { scale(c, ldc: ldc, m: m, n: n, beta: beta); return }
        let work = m * n * k
        if work < packingThreshold {
            small(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let pool = WorkerPool.shared
        let wanted = threads > 0 ? min(threads, pool.width) : (work >= parallelThreshold ? pool.width : 1)
        // Each thread packs all of B when M is split, and all of A when N is split: split the
        // larger dimension, so the operand every thread packs in full is the smaller one.
        let canSplitM = m >= 2 * mr * wanted, canSplitN = n >= 2 * nr * wanted
        let splitM = canSplitM && (m >= n || !canSplitN)
        let splitN = !splitM && canSplitN
        let parts = (splitN || splitM) ? min(wanted, 2) : 1
        if parts == 1 {
            blocked(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                    a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let pa = SendablePointer(a), pb = SendablePointer(b), pc = SendableMutablePointer(c)
        pool.run(tasks: parts) { t in
            if splitN {
                let half = ((n / 2) + nr - 1) / nr * nr
                let j0 = t == 0 ? 0 : half, j1 = t == 0 ? half : n
                blocked(transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha,
                        a: pa.p, lda: lda, b: transB ? pb.p + j0 * ldb : pb.p + j0, ldb: ldb,
                        beta: beta, c: pc.p + j0, ldc: ldc)
            } else {
                let half = ((m / 2) + mr - 1) / mr * mr
                let i0 = t == 0 ? 0 : half, i1 = t == 0 ? half : m
                blocked(transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha,
                        a: transA ? pa.p + i0 : pa.p + i0 * lda, lda: lda, b: pb.p, ldb: ldb,
                        beta: beta, c: pc.p + i0 * ldc, ldc: ldc)
            }
        }
    }

    /// Computes `C = alpha·op(A)·B + beta·C` with B packed in advance (`GemmPackedB`, which
    /// gives `k` and `n`): the same values as `multiply` with the unpacked B, without packing
    /// it again on every call and thread. Rows of C are split across up to `threads` threads
    /// (0 picks by problem size).
    public static func multiply(
        transA: Bool, m: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, packedB: GemmPackedB,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int = 0
    ) {
        let n = packedB.n, k = packedB.k
        precondition(m >= 0 && lda >= (transA ? m : k) && ldc >= n,
                     "GEMM dimensions: m=\(m) lda=\(lda) ldc=\(ldc) for n=\(n) k=\(k)")
        if m == 0 { return }
        if alpha == 0 { scale(c, ldc: ldc, m: m, n: n, beta: beta); return }
        let pool = WorkerPool.shared
        let work = m * n * k
        let wanted = threads > 0 ? min(threads, pool.width) : (work >= parallelThreshold ? pool.width : 1)
        let parts = m >= 2 * mr * wanted ? min(wanted, 2) : 1
        let bp = UnsafePointer(packedB.storage)
        if parts == 1 {
            blocked(transA: transA, transB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: bp, ldb: n,
                    beta: beta, c: c, ldc: ldc, packed: packedB)
            return
        }
        let pa = SendablePointer(a), pc = SendableMutablePointer(c), pb = SendablePointer(bp)
        pool.run(tasks: parts) { t in
            let half = ((m / 2) + mr - 1) / mr * mr
            let i0 = t == 0 ? 0 : half, i1 = t == 0 ? half : m
            blocked(transA: transA, transB: false, m: i1 - i0, n: n, k: k, alpha: alpha,
                    a: transA ? pa.p + i0 : pa.p + i0 * lda, lda: lda, b: pb.p, ldb: n,
                    beta: beta, c: pc.p + i0 * ldc, ldc: ldc, packed: packedB)
        }
    }

    /// Depth of one pass over k: at most `kc`, with the passes balanced so the last one is not
    /// a short remainder (576 = 3×192 rather than 256+256+64). Depends on k alone, so every
    /// row of C sees the same summation order whatever m, n or the thread split is.
    @inline(__always)
    static func passDepth(k: Int) -> Int {
        let passes = (k + kc - 1) / kc
        return (k + passes - 1) / passes
    }

    /// Whether the micro-kernel should read A in place rather than from a packed copy.
    /// Packing costs a pass over A per block of B columns: it pays back only when each packed
    /// element is reused across many columns of C. Measured on the ResNet-18 / ViT-Tiny shapes
    /// (`cohort bench gemm --shapes r18,vit`): in place wins for row-major A up to n ≈ 512
    /// (convolution forward, n = output channels) and for transposed A with a short row
    /// (weight gradients with 64 output channels, attention); packing wins for the wide
    /// input-gradient products and for transposed A with long rows, where each step of the
    /// in-place walk would touch a new cache line.
    @inline(__always)
    static func readsAInPlace(transA: Bool, n: Int, lda: Int) -> Bool {
        transA ? lda <= 96 : n <= 512
    }

    /// The cache-blocked product on one thread: B always packed, A packed or read in place.
    static func blocked(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, packed: GemmPackedB? = nil
    ) {
        if takesShortTransB(transB: transB, m: m, k: k, packed: packed) {
            blockedShortTransB(transA: transA, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                               beta: beta, c: c, ldc: ldc)
            return
        }
        blockedGeneral(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc, packed: packed)
    }

    /// `blocked`'s general loop (every shape; `blockedShortTransB` gives the same values for
    /// the shapes it takes).
    static func blockedGeneral(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, packed: GemmPackedB? = nil
    ) {
        let kcMax = passDepth(k: k)
        let inPlace = readsAInPlace(transA: transA, n: n, lda: lda)
        // Rounded up to 16 floats so bPack stays 64-byte aligned: the micro-kernel loads B panels
        // with aligned SIMD8 loads (a debug build traps on a misaligned one, e.g. m = 65, k = 2).
        let aSize = inPlace ? 0 : ((min(mc, m) + mr - 1) / mr * mr * kcMax + 15) / 16 * 16
        let bSize = packed == nil ? ((min(nc, n) + nr - 1) / nr * nr) * kcMax : 0
        // A in place: step p of tile row r is a[r·rowStride + p·stepStride].
        let rowStride = transA ? 1 : lda, stepStride = transA ? lda : 1
        ScratchBuffers.with(count: aSize + bSize) { scratch in
            let aPack = scratch
            let bScratch = scratch + aSize
            var jc = 0
            while jc < n {
                let nb = min(nc, n - jc)
                var pc = 0
                while pc < k {
                    let kb = min(kcMax, k - pc)
                    let bPack: UnsafePointer<Float>
                    if let packed {
                        bPack = packed.block(jc: jc, pc: pc)
                    } else {
                        GemmPacking.packB(transB: transB, b: b, ldb: ldb, row: pc, col: jc, k: kb, n: nb, into: bScratch)
                        bPack = UnsafePointer(bScratch)
                    }
                    let betaHere: Float = pc == 0 ? beta : 1
                    var ic = 0
                    while ic < m {
                        let mb = min(mc, m - ic)
                        if inPlace {
                            GemmPacking.touch(a + ic * rowStride + pc * stepStride, lines: transA ? kb : mb,
                                              stride: lda, length: transA ? mb : kb)
                            macroKernelInPlace(m: mb, n: nb, k: kb, alpha: alpha,
                                               a: a + ic * rowStride + pc * stepStride, rowStride: rowStride,
                                               stepStride: stepStride, bPack: bPack, beta: betaHere,
                                               c: c + ic * ldc + jc, ldc: ldc)
                        } else {
                            GemmPacking.packA(transA: transA, a: a, lda: lda, row: ic, col: pc, m: mb, k: kb, into: aPack)
                            macroKernel(m: mb, n: nb, k: kb, alpha: alpha, aPack: aPack, bPack: bPack,
                                        beta: betaHere, c: c + ic * ldc + jc, ldc: ldc)
                        }
                        ic += mb
                    }
                    pc += kb
                }
                jc += nb
            }
        }
    }

    /// One packed A block times one packed B block. Not inlined: each macro-kernel is compiled
    /// on its own so the micro-kernel gets all sixteen vector registers (inlined into
    /// `blocked` beside the in-place path, an accumulator spilled and speed halved).
    @inline(never)
    static func macroKernel(m: Int, n: Int, k: Int, alpha: Float, aPack: UnsafePointer<Float>,
                            bPack: UnsafePointer<Float>, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        var jr = 0
        while jr < n {
            let cols = min(nr, n - jr)
            var ir = 0
            while ir < m {
                let rows = min(mr, m - ir)
                GemmMicroKernel.run(k: k, a: aPack + ir * k, b: bPack + jr * k, c: c + ir * ldc + jr, ldc: ldc,
                                    rows: rows, cols: cols, alpha: alpha, beta: beta)
                ir += mr
            }
            jr += nr
        }
    }

    /// One block of A read in place times one packed B block (see `macroKernel`).
    @inline(never)
    static func macroKernelInPlace(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
                                   rowStride: Int, stepStride: Int, bPack: UnsafePointer<Float>, beta: Float,
                                   c: UnsafeMutablePointer<Float>, ldc: Int) {
        var jr = 0
        while jr < n {
            let cols = min(nr, n - jr)
            var ir = 0
            while ir < m {
                GemmMicroKernel.runStrided(k: k, a: a + ir * rowStride, rowStride: rowStride, stepStride: stepStride,
                                           b: bPack + jr * k, c: c + ir * ldc + jr, ldc: ldc,
                                           rows: min(mr, m - ir), cols: cols, alpha: alpha, beta: beta)
                ir += mr
            }
            jr += nr
        }
    }

    /// C = beta·C (beta 0 writes zeros without reading C).
    static func scale(_ c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, beta: Float) {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { row.update(repeating: 0, count: n) } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
        }
    }

    /// Unpacked loop for tiny products, where packing would cost more than the arithmetic.
    /// Each element is accumulated and stored exactly as the micro-kernel does it (FMA over `k`
    /// from zero, then alpha, then `beta·C` fused), so a row's result does not depend on which
    /// path its batch took.
    static func small(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // Loop order i-p-j into a row accumulator: vectorises over j while every element still
        // sees the same FMA sequence over p as in the micro-kernel.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { acc in
            let accp = acc.baseAddress!
            for i in 0..<m {
                accp.update(repeating: 0, count: n)
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    if transB {
                        for j in 0..<n { accp[j] = accp[j].addingProduct(av, b[j * ldb + p]) }
                    } else {
                        let brow = b + p * ldb
                        for j in 0..<n { accp[j] = accp[j].addingProduct(av, brow[j]) }
                    }
                }
                let row = c + i * ldc
                for j in 0..<n {
                    let v = alpha == 1 ? accp[j] : accp[j] * alpha
                    row[j] = beta == 0 ? v : v.addingProduct(beta, row[j])
                }
            }
        }
    }
}

/// A pointer that may cross to a worker thread; the kernel using it guarantees disjoint writes.
public struct SendablePointer: @unchecked Sendable {
    public let p: UnsafePointer<Float>
    public init(_ p: UnsafePointer<Float>) { self.p = p }
}

/// A mutable pointer that may cross to a worker thread; the kernel using it guarantees
/// disjoint writes.
public struct SendableMutablePointer: @unchecked Sendable {
    public let p: UnsafeMutablePointer<Float>
    public init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
}
