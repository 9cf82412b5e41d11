/// The B operand of `C = op(A)·op(B)` packed once, in advance, into the micro-kernel's panel
/// layout, for a B used many times unchanged: a layer's weight during inference.
///
/// `Gemm.multiply` packs B on every call, on every thread it splits the rows of C over: with
/// ViT-Tiny's `x·Wᵀ` (W stored `[units, inputs]`, so packing is a transposing gather) that was
/// about 4–5% of an inference forward. A `GemmPackedB` holds, for each block of `Gemm.nc`
/// columns and each pass over `k` (`Gemm.passDepth`), exactly what `packB` would have written,
/// so products through it give bit-identical results to `Gemm.multiply`.
public final class GemmPackedB: @unchecked Sendable {
    /// Rows of op(B) (the GEMM's `k`).
    public let k: Int
    /// Columns of op(B) (the GEMM's `n`).
    public let n: Int
    /// 64-byte aligned panels; immutable after `init`, so threads may read it concurrently.
    let storage: UnsafeMutablePointer<Float>
    /// Offset of the block for (column block `j`, pass `p`) at `j * passes + p`.
    let offsets: [Int]
    /// Passes over `k` per column block.
    let passes: Int
    /// Depth of each pass but possibly the last (`Gemm.passDepth(k:)`).
    let depth: Int

    /// Packs op(B), `k×n`: `b` is stored `n×k` with row stride `ldb` when `transB`, else `k×n`.
    public init(transB: Bool, b: UnsafePointer<Float>, ldb: Int, k: Int, n: Int) {
        precondition(k > 0 && n > 0 && ldb >= (transB ? k : n), "GemmPackedB: bad dimensions k=\(k) n=\(n) ldb=\(ldb)")
        self.k = k
        self.n = n
        depth = Gemm.passDepth(k: k)
        passes = (k + depth - 1) / depth
        var offsets: [Int] = []
        var total = 0
        var jc = 0
        while jc < n {
            let nb = min(Gemm.nc, n - jc)
            var pc = 0
            while pc < k {
                let kb = min(depth, k - pc)
                offsets.append(total)
                // Each block rounded up to 16 floats keeps every block 64-byte aligned.
                total += ((nb + Gemm.nr - 1) / Gemm.nr * Gemm.nr * kb + 15) / 16 * 16
                pc += kb
            }
            jc += nb
        }
        self.offsets = offsets
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(total, 16) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(total, 16))
        jc = 0
        var block = 0
        while jc < n {
            let nb = min(Gemm.nc, n - jc)
            var pc = 0
            while pc < k {
                let kb = min(depth, k - pc)
                GemmPacking.packB(transB: transB, b: b, ldb: ldb, row: pc, col: jc, k: kb, n: nb, into: storage + offsets[block])
                block += 1
                pc += kb
            }
            jc += nb
        }
    }

    /// Packs the weight of `y = x·Wᵀ` (`W` row-major `[units, inputs]`, as PyTorch's `Linear`).
    public static func weight(_ w: [Float], units: Int, inputs: Int) -> GemmPackedB {
        precondition(w.count == units * inputs, "GemmPackedB: weight has \(w.count) values, expected \(units)×\(inputs)")
        return w.withUnsafeBufferPointer { GemmPackedB(transB: true, b: $0.baseAddress!, ldb: inputs, k: inputs, n: units) }
    }

    /// The packed block for columns starting at `jc` (a multiple of `Gemm.nc`) and the pass
    /// starting at `pc` (a multiple of `depth`).
    @inline(__always)
    func block(jc: Int, pc: Int) -> UnsafePointer<Float> {
        UnsafePointer(storage + offsets[(jc / Gemm.nc) * passes + pc / depth])
    }

    deinit { UnsafeMutableRawPointer(storage).deallocate() }
}
