/// Packs blocks of A and B into the panel layouts the micro-kernel streams through.
enum GemmPacking {
    /// Packs `m×k` of op(A) starting at (`row`, `col`) into 6-row panels: panel `i` holds, for
    /// each `p`, the 6 values `op(A)[i*6 + 0..<6, p]` contiguously; short panels are zero-padded.
    @inline(__always)
    static func packA(transA: Bool, a: UnsafePointer<Float>, lda: Int, row: Int, col: Int, m: Int, k: Int,
                      into dst: UnsafeMutablePointer<Float>) {
        let mr = Gemm.mr
        var out = dst
        var i0 = 0
        while i0 < m {
            let rows = min(mr, m - i0)
            if transA {
                // op(A)[i, p] = a[(col + p) * lda + row + i]: 6 contiguous values per p.
                var src = a + col * lda + row + i0
                if rows == mr {
                    for _ in 0..<k {
                        out[0] = src[0]; out[1] = src[1]; out[2] = src[2]
                        out[3] = src[3]; out[4] = src[4]; out[5] = src[5]
                        out += mr; src += lda
                    }
                } else {
                    for _ in 0..<k {
                        for r in 0..<mr { out[r] = r < rows ? src[r] : 0 }
                        out += mr; src += lda
                    }
                }
            } else {
                // op(A)[i, p] = a[(row + i) * lda + col + p]: read rows, interleave.
                let base = a + (row + i0) * lda + col
                if rows == mr {
                    let r0 = base, r1 = base + lda, r2 = base + 2 * lda
                    let r3 = base + 3 * lda, r4 = base + 4 * lda, r5 = base + 5 * lda
                    for p in 0..<k {
                        out[0] = r0[p]; out[1] = r1[p]; out[2] = r2[p]
                        out[3] = r3[p]; out[4] = r4[p]; out[5] = r5[p]
                        out += mr
                    }
                } else {
                    for p in 0..<k {
                        for r in 0..<mr { out[r] = r < rows ? base[r * lda + p] : 0 }
                        out += mr
                    }
                }
            }
            i0 += mr
        }
    }

    /// Packs `k×n` of op(B) starting at (`row`, `col`) into 16-column panels: panel `j` holds,
    /// for each `p`, the 16 values `op(B)[p, j*16 + 0..<16]` contiguously; zero-padded.
    @inline(__always)
    static func packB(transB: Bool, b: UnsafePointer<Float>, ldb: Int, row: Int, col: Int, k: Int, n: Int,
                      into dst: UnsafeMutablePointer<Float>) {
        let nr = Gemm.nr
        var out = dst
        var j0 = 0
        while j0 < n {
            let cols = min(nr, n - j0)
            if transB {
                // op(B)[p, j] = b[(col + j) * ldb + row + p]: columns are contiguous in p.
                let base = b + (col + j0) * ldb + row
                if cols == nr {
                    for p in 0..<k {
                        var src = base + p
                        for j in 0..<nr { out[j] = src.pointee; src += ldb }
                        out += nr
                    }
                } else {
                    for p in 0..<k {
                        for j in 0..<nr { out[j] = j < cols ? base[j * ldb + p] : 0 }
                        out += nr
                    }
                }
            } else {
                // op(B)[p, j] = b[(row + p) * ldb + col + j]: 16 contiguous values per p.
                var src = b + row * ldb + col + j0
                if cols == nr {
                    for _ in 0..<k {
                        let raw = UnsafeRawPointer(src)
                        let v0 = raw.loadUnaligned(as: SIMD8<Float>.self)
                        let v1 = raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(out).storeBytes(of: v0, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(out).storeBytes(of: v1, toByteOffset: 32, as: SIMD8<Float>.self)
                        out += nr; src += ldb
                    }
                } else {
                    for _ in 0..<k {
                        for j in 0..<nr { out[j] = j < cols ? src[j] : 0 }
                        out += nr; src += ldb
                    }
                }
            }
            j0 += nr
        }
    }
}
