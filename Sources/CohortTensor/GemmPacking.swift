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
        if !transB {
            packRowsOfB(b: b, ldb: ldb, row: row, col: col, k: k, n: n, into: dst)
            return
        }
        let nr = Gemm.nr
        var out = dst
        var j0 = 0
        while j0 < n {
            let cols = min(nr, n - j0)
            // op(B)[p, j] = b[(col + j) * ldb + row + p]: columns are contiguous in p.
            let base = b + (col + j0) * ldb + row
            if cols == nr {
                // Column by column: each of B's rows is read in address order (one stream),
                // and the 64-byte-strided writes land in the panel, which stays in L1.
                for j in 0..<nr {
                    let src = base + j * ldb
                    var o = out + j
                    for p in 0..<k { o.pointee = src[p]; o += nr }
                }
                out += nr * k
            } else {
                for p in 0..<k {
                    for j in 0..<nr { out[j] = j < cols ? base[j * ldb + p] : 0 }
                    out += nr
                }
            }
            j0 += nr
        }
    }

    /// `packB` for untransposed B, `op(B)[p, j] = b[(row + p) * ldb + col + j]`. Walks B row by
    /// row, scattering each row's 16-float pieces to their panels, so B is read in address
    /// order (a panel-by-panel walk reads 64 bytes per row and defeats the prefetcher when B
    /// is a tall im2col matrix fresh from memory).
    @inline(__always)
    static func packRowsOfB(b: UnsafePointer<Float>, ldb: Int, row: Int, col: Int, k: Int, n: Int,
                            into dst: UnsafeMutablePointer<Float>) {
        let nr = Gemm.nr
        let full = n / nr, tail = n - full * nr
        let panel = k * nr
        for p in 0..<k {
            let src = b + (row + p) * ldb + col
            var out = UnsafeMutableRawPointer(dst + p * nr)
            var from = UnsafeRawPointer(src)
            for _ in 0..<full {
                let v0 = from.loadUnaligned(as: SIMD8<Float>.self)
                let v1 = from.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                out.storeBytes(of: v0, as: SIMD8<Float>.self)
                out.storeBytes(of: v1, toByteOffset: 32, as: SIMD8<Float>.self)
                out += panel * 4
                from += 64
            }
            if tail > 0 {
                let last = dst + full * panel + p * nr
                for j in 0..<nr { last[j] = j < tail ? src[full * nr + j] : 0 }
            }
        }
    }

    /// Reads one float per cache line of `lines` runs of `length` floats, `stride` apart, in
    /// address order. Done before a block of A is read in place: the micro-kernel walks six
    /// rows at once, which the hardware prefetcher follows poorly when A comes from memory
    /// (a 32768×147 im2col matrix ran at 70 GFLOP/s against 105 once in cache); one ordered
    /// sweep brings the block into cache at streaming speed.
    @inline(never)
    static func touch(_ base: UnsafePointer<Float>, lines: Int, stride: Int, length: Int) {
        guard length > 0 else { return }
        var acc: UInt32 = 0
        for i in 0..<lines {
            let row = base + i * stride
            var j = 0
            while j < length {
                acc |= row[j].bitPattern
                j &+= 16
            }
            acc |= row[length - 1].bitPattern
        }
        touchSink = acc
    }

    /// Where `touch` leaves its result, so the loads are not optimised away.
    nonisolated(unsafe) static var touchSink: UInt32 = 0
}
