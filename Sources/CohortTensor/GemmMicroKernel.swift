/// The 6×16 register-tiled inner kernel: twelve `SIMD8<Float>` accumulators, one FMA each per
/// step of `k`. It is fragile: an overflow-checked loop counter makes the accumulators spill,
/// so the loop uses wrapping arithmetic. Check the disassembly after changing it.
enum GemmMicroKernel {
    @inline(__always)
    static func run(k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                    ldc: Int, rows: Int, cols: Int, alpha: Float, beta: Float) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>()
        var c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>()
        var c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        var ap = a
        var bp = UnsafeRawPointer(b)
        var p = k
        while p > 0 {
            let b0 = bp.load(as: SIMD8<Float>.self)
            let b1 = bp.load(fromByteOffset: 32, as: SIMD8<Float>.self)
            var av = SIMD8<Float>(repeating: ap[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[1])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[4])
            c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[5])
            c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
            ap += 6
            bp += 64
            p &-= 1
        }
        finish(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51,
               c: c, ldc: ldc, rows: rows, cols: cols, alpha: alpha, beta: beta)
    }

    /// The same 6×16 tile reading A in place instead of from a packed panel: row `r` of the
    /// tile, step `p` is `a[r·rowStride + p·stepStride]`. Row-major A has (lda, 1), transposed
    /// A has (1, lda). Rows past `rows` re-read the last valid row (their results are
    /// dropped), so nothing outside A is touched. Each element sees the same FMA sequence as
    /// in `run`, so results do not depend on whether A was packed.
    @inline(__always)
    static func runStrided(k: Int, a: UnsafePointer<Float>, rowStride: Int, stepStride: Int,
                           b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                           ldc: Int, rows: Int, cols: Int, alpha: Float, beta: Float) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>()
        var c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>()
        var c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        let last = rows &- 1
        let o1 = min(1, last) &* rowStride, o2 = min(2, last) &* rowStride
        let o3 = min(3, last) &* rowStride, o4 = min(4, last) &* rowStride
        let o5 = min(5, last) &* rowStride
        var ap = a
        var bp = UnsafeRawPointer(b)
        var p = k
        while p > 0 {
            let b0 = bp.load(as: SIMD8<Float>.self)
            let b1 = bp.load(fromByteOffset: 32, as: SIMD8<Float>.self)
            var av = SIMD8<Float>(repeating: ap[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[o1])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[o2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[o3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[o4])
            c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
            av = SIMD8<Float>(repeating: ap[o5])
            c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
            ap += stepStride
            bp += 64
            p &-= 1
        }
        finish(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51,
               c: c, ldc: ldc, rows: rows, cols: cols, alpha: alpha, beta: beta)
    }

    /// Writes the accumulated tile to C: a full tile with vector stores, an edge tile by
    /// merging only its valid part.
    @inline(__always)
    private static func finish(_ c00: SIMD8<Float>, _ c01: SIMD8<Float>, _ c10: SIMD8<Float>, _ c11: SIMD8<Float>,
                               _ c20: SIMD8<Float>, _ c21: SIMD8<Float>, _ c30: SIMD8<Float>, _ c31: SIMD8<Float>,
                               _ c40: SIMD8<Float>, _ c41: SIMD8<Float>, _ c50: SIMD8<Float>, _ c51: SIMD8<Float>,
                               c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int, alpha: Float, beta: Float) {
        if rows == 6 && cols == 16 {
            store(c00, c01, to: c, alpha: alpha, beta: beta)
            store(c10, c11, to: c + ldc, alpha: alpha, beta: beta)
            store(c20, c21, to: c + 2 * ldc, alpha: alpha, beta: beta)
            store(c30, c31, to: c + 3 * ldc, alpha: alpha, beta: beta)
            store(c40, c41, to: c + 4 * ldc, alpha: alpha, beta: beta)
            store(c50, c51, to: c + 5 * ldc, alpha: alpha, beta: beta)
            return
        }
        // Edge tile: spill the accumulators and merge only the valid part.
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 12) { tile in
            tile[0] = c00; tile[1] = c01; tile[2] = c10; tile[3] = c11
            tile[4] = c20; tile[5] = c21; tile[6] = c30; tile[7] = c31
            tile[8] = c40; tile[9] = c41; tile[10] = c50; tile[11] = c51
            let flat = UnsafeRawPointer(tile.baseAddress!).assumingMemoryBound(to: Float.self)
            for r in 0..<rows {
                let row = c + r * ldc
                for j in 0..<cols {
                    let v = alpha == 1 ? flat[r * 16 + j] : alpha * flat[r * 16 + j]
                    row[j] = beta == 0 ? v : v.addingProduct(beta, row[j])
                }
            }
        }
    }

    @inline(__always)
    private static func store(_ lo: SIMD8<Float>, _ hi: SIMD8<Float>, to c: UnsafeMutablePointer<Float>,
                              alpha: Float, beta: Float) {
        let raw = UnsafeMutableRawPointer(c)
        var vlo = lo, vhi = hi
        if alpha != 1 { vlo *= alpha; vhi *= alpha }
        if beta != 0 {
            let old0 = raw.loadUnaligned(as: SIMD8<Float>.self)
            let old1 = raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            vlo = vlo.addingProduct(SIMD8<Float>(repeating: beta), old0)
            vhi = vhi.addingProduct(SIMD8<Float>(repeating: beta), old1)
        }
        raw.storeBytes(of: vlo, as: SIMD8<Float>.self)
        raw.storeBytes(of: vhi, toByteOffset: 32, as: SIMD8<Float>.self)
    }
}
