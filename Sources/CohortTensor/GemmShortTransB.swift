extension Gemm {
    /// Columns of C per block in `blockedShortTransB`: the block's packed B for every pass over
    /// k (256 columns × k floats: 1 MB at k = 1000) stays in L2 while the passes use it.
    static let shortTransBColumns = 256
    /// Floats of scratch the short path may pack A into, and B per column block (4 MiB each):
    /// it packs all of A (m × k) at once, and a block's B for all of k.
    static let shortTransBScratch = 1 << 20

    /// Whether `blocked` takes `blockedShortTransB`: B transposed and packed here, C short
    /// enough to be one block of rows (`m ≤ mc`), k deeper than one pass, and A small enough
    /// to pack whole (a dense layer fed a flattened image, k ≈ 150,000, keeps the general loop).
    @inline(__always)
    static func takesShortTransB(transB: Bool, m: Int, k: Int, packed: GemmPackedB?) -> Bool {
        transB && packed == nil && m <= mc && k > kc && m * k <= shortTransBScratch && nr * k <= shortTransBScratch
    }

    /// `blocked` for op(B) = Bᵀ with few rows of C: a dense layer's forward pass, X·Wᵀ, with a
    /// batch of rows and W stored (units × inputs).
    ///
    /// The general loop packs one pass (`passDepth` values of k) of Bᵀ at a time for 3072
    /// columns, so each row of B is read in pieces of a few hundred floats, its page revisited
    /// once per pass after thousands of other rows: with m = 32 each packed value serves only
    /// 32 rows of C, and that scattered read of B from memory took as long as the arithmetic.
    /// Here each block of 256 columns has every pass packed at once, reading each row of B
    /// from start to end, and A is packed once for all blocks. The passes, the packed panels
    /// and the micro-kernel calls are those of `blocked`, in the same order for every element
    /// of C: the results are bit for bit the same.
    static func blockedShortTransB(
        transA: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let kcMax = passDepth(k: k)
        let passes = (k + kcMax - 1) / kcMax
        let inPlace = readsAInPlace(transA: transA, n: n, lda: lda)
        let rowStride = transA ? 1 : lda, stepStride = transA ? lda : 1
        // Per pass, rounded to 16 floats so every region starts 64-byte aligned.
        let aPass = inPlace ? 0 : ((m + mr - 1) / mr * mr * kcMax + 15) / 16 * 16
        let budget = max(nr, shortTransBScratch / k / nr * nr)
        let columns = min(shortTransBColumns, budget, (n + nr - 1) / nr * nr)
        let bPass = columns * kcMax
        ScratchBuffers.with(count: aPass * passes + bPass * passes) { scratch in
            let aPack = scratch, bPack = scratch + aPass * passes
            if !inPlace {
                for pass in 0..<passes {
                    let pc = pass * kcMax
                    GemmPacking.packA(transA: transA, a: a, lda: lda, row: 0, col: pc, m: m, k: min(kcMax, k - pc),
                                      into: aPack + pass * aPass)
                }
            }
            var jc = 0
            while jc < n {
                let nb = min(columns, n - jc)
                GemmPacking.packTransposedBAllPasses(b: b, ldb: ldb, col: jc, n: nb, k: k, passDepth: kcMax,
                                                     passStride: bPass, into: bPack)
                for pass in 0..<passes {
                    let pc = pass * kcMax
                    let kb = min(kcMax, k - pc)
                    let betaHere: Float = pass == 0 ? beta : 1
                    if inPlace {
                        GemmPacking.touch(a + pc * stepStride, lines: transA ? kb : m, stride: lda, length: transA ? m : kb)
                        macroKernelInPlace(m: m, n: nb, k: kb, alpha: alpha, a: a + pc * stepStride, rowStride: rowStride,
                                           stepStride: stepStride, bPack: bPack + pass * bPass, beta: betaHere,
                                           c: c + jc, ldc: ldc)
                    } else {
                        macroKernel(m: m, n: nb, k: kb, alpha: alpha, aPack: aPack + pass * aPass, bPack: bPack + pass * bPass,
                                    beta: betaHere, c: c + jc, ldc: ldc)
                    }
                }
                jc += nb
            }
        }
    }
}

extension GemmPacking {
    /// `packB(transB: true, …)` for every pass over k at once: pass `q` (k values
    /// `q·passDepth ..< min(k, (q+1)·passDepth)`) goes to `dst + q·passStride` in the layout
    /// `packB` gives it. Each of the `n` rows of B (columns of Bᵀ) from `col` is read once, in
    /// address order, from 0 to k.
    @inline(__always)
    static func packTransposedBAllPasses(b: UnsafePointer<Float>, ldb: Int, col: Int, n: Int, k: Int, passDepth: Int,
                                         passStride: Int, into dst: UnsafeMutablePointer<Float>) {
        let nr = Gemm.nr
        var j0 = 0
        while j0 < n {
            let cols = min(nr, n - j0)
            var pc = 0
            while pc < k {
                let kb = min(passDepth, k - pc)
                let panel = dst + (pc / passDepth) * passStride + j0 * kb
                if cols == nr {
                    packFullPanel(b + (col + j0) * ldb + pc, ldb: ldb, k: kb, into: panel)
                } else {
                    // The block's last, zero-padded panel: packB's own loop.
                    packB(transB: true, b: b, ldb: ldb, row: pc, col: col + j0, k: kb, n: cols, into: panel)
                }
                pc += kb
            }
            j0 += nr
        }
    }

    /// One full 16-column panel of Bᵀ for `k` steps: 8×8 blocks transposed in registers (16
    /// values per step land as two vector stores instead of sixteen scalar ones), the last
    /// `k mod 8` steps one value at a time. The same values as `packB` puts there.
    @inline(__always)
    static func packFullPanel(_ src: UnsafePointer<Float>, ldb: Int, k: Int, into dst: UnsafeMutablePointer<Float>) {
        let nr = Gemm.nr
        let raw = UnsafeRawPointer(src)
        let out = UnsafeMutableRawPointer(dst)
        var p = 0
        while p + 8 <= k {
            for half in 0..<2 {
                let rows = raw + (half * 8 * ldb + p) * 4
                let t = transposed8x8(
                    rows.loadUnaligned(as: SIMD8<Float>.self),
                    rows.loadUnaligned(fromByteOffset: ldb * 4, as: SIMD8<Float>.self),
                    rows.loadUnaligned(fromByteOffset: 2 * ldb * 4, as: SIMD8<Float>.self),
                    rows.loadUnaligned(fromByteOffset: 3 * ldb * 4, as: SIMD8<Float>.self),
                    rows.loadUnaligned(fromByteOffset: 4 * ldb * 4, as: SIMD8<Float>.self),
                    rows.loadUnaligned(fromByteOffset: 5 * ldb * 4, as: SIMD8<Float>.self),
                    rows.loadUnaligned(fromByteOffset: 6 * ldb * 4, as: SIMD8<Float>.self),
                    rows.loadUnaligned(fromByteOffset: 7 * ldb * 4, as: SIMD8<Float>.self))
                let base = out + (p * nr + half * 8) * 4
                base.storeBytes(of: t.0, toByteOffset: 0, as: SIMD8<Float>.self)
                base.storeBytes(of: t.1, toByteOffset: nr * 4, as: SIMD8<Float>.self)
                base.storeBytes(of: t.2, toByteOffset: 2 * nr * 4, as: SIMD8<Float>.self)
                base.storeBytes(of: t.3, toByteOffset: 3 * nr * 4, as: SIMD8<Float>.self)
                base.storeBytes(of: t.4, toByteOffset: 4 * nr * 4, as: SIMD8<Float>.self)
                base.storeBytes(of: t.5, toByteOffset: 5 * nr * 4, as: SIMD8<Float>.self)
                base.storeBytes(of: t.6, toByteOffset: 6 * nr * 4, as: SIMD8<Float>.self)
                base.storeBytes(of: t.7, toByteOffset: 7 * nr * 4, as: SIMD8<Float>.self)
            }
            p += 8
        }
        while p < k {
            for j in 0..<nr { dst[p * nr + j] = src[j * ldb + p] }
            p += 1
        }
    }

    /// The transpose of the 8×8 matrix whose rows are `r0…r7`: three rounds of splitting the
    /// 64 values into even and odd positions (each round rotates the index bits by one; three
    /// rounds swap row and column bits).
    @inline(__always)
    static func transposed8x8(_ r0: SIMD8<Float>, _ r1: SIMD8<Float>, _ r2: SIMD8<Float>, _ r3: SIMD8<Float>,
                              _ r4: SIMD8<Float>, _ r5: SIMD8<Float>, _ r6: SIMD8<Float>, _ r7: SIMD8<Float>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
    {
        var v = (r0, r1, r2, r3, r4, r5, r6, r7)
        for _ in 0..<3 {
            let p0 = SIMD16(lowHalf: v.0, highHalf: v.1), p1 = SIMD16(lowHalf: v.2, highHalf: v.3)
            let p2 = SIMD16(lowHalf: v.4, highHalf: v.5), p3 = SIMD16(lowHalf: v.6, highHalf: v.7)
            v = (p0.evenHalf, p1.evenHalf, p2.evenHalf, p3.evenHalf, p0.oddHalf, p1.oddHalf, p2.oddHalf, p3.oddHalf)
        }
        return v
    }
}
