import XCTest
import CohortTensor

final class GemmTests: XCTestCase {
    /// Naive triple loop in Double: the reference every GEMM path is checked against.
    private func reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                           a: [Float], b: [Float], beta: Float, c: [Float]) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * m + i] : a[i * k + p]
                    let bv = transB ? b[j * k + p] : b[p * n + j]
                    s += Double(av) * Double(bv)
                }
                out[i * n + j] = Float(Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(c[i * n + j])))
            }
        }
        return out
    }

    private func check(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float = 1, beta: Float = 0,
                       threads: Int = 0, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: UInt64(m * 10007 + n * 101 + k))
        let a = (0..<(m * k)).map { _ in rng.normal() }
        let b = (0..<(k * n)).map { _ in rng.normal() }
        // With beta == 0 C starts as NaN: the kernel must not read it.
        let c0 = (0..<(m * n)).map { _ in beta == 0 ? Float.nan : rng.normal() }
        var c = c0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    Gemm.multiply(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                  a: pa.baseAddress!, lda: transA ? m : k, b: pb.baseAddress!, ldb: transB ? k : n,
                                  beta: beta, c: pc.baseAddress!, ldc: n, threads: threads)
                }
            }
        }
        let want = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c0)
        var worst: Float = 0
        for i in 0..<(m * n) {
            // Relative to the size of the sum: sqrt(k) terms of unit variance.
            let err = abs(c[i] - want[i]) / (Float(k).squareRoot() + abs(want[i]))
            worst = max(worst, err.isNaN ? .infinity : err)
        }
        XCTAssertLessThan(worst, 1e-5, "m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) threads=\(threads)", file: file, line: line)
    }

    func testOddShapesAllTransposeVariants() {
        let shapes = [(1, 1, 1), (7, 13, 5), (65, 129, 33), (6, 16, 1), (13, 17, 300), (150, 40, 257)]
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                check(m: m, n: n, k: k, transA: ta, transB: tb)
            }
        }
    }

    func testAlphaBetaAccumulate() {
        check(m: 65, n: 129, k: 33, transA: false, transB: false, alpha: 0.5, beta: 1)
        check(m: 65, n: 129, k: 33, transA: true, transB: false, alpha: -2, beta: 0.25)
        check(m: 7, n: 13, k: 5, transA: false, transB: true, alpha: 1, beta: 1)
    }

    func testBlockBoundariesAndThreadSplits() {
        // Crosses mc=144, kc=256 and forces both split directions on two threads.
        check(m: 300, n: 70, k: 600, transA: false, transB: false, threads: 2)
        check(m: 20, n: 300, k: 513, transA: true, transB: true, threads: 2)
        check(m: 64, n: 256, k: 784, transA: false, transB: false, threads: 1)
        check(m: 784, n: 256, k: 64, transA: true, transB: false, threads: 2)
    }

    /// The packed B panel sits after the packed A block in one scratch buffer; with A's size not
    /// a multiple of 8 floats (e.g. 11 row tiles × k = 2) B was misaligned for the micro-kernel's
    /// aligned SIMD8 loads, which a debug build traps on.
    func testPackedPanelsStayAlignedForAnyShape() {
        for (m, n, k) in [(65, 64, 2), (200, 32, 3), (61, 40, 5), (13, 160, 7)] {
            check(m: m, n: n, k: k, transA: false, transB: false, threads: 1)
            check(m: m, n: n, k: k, transA: true, transB: true, threads: 1)
        }
    }

    func testZeroKScalesC() {
        var c: [Float] = [1, 2, 3, 4]
        let a: [Float] = [0], b: [Float] = [0]
        Gemm.multiply(transA: false, transB: false, m: 2, n: 2, k: 0, a: a, lda: 1, b: b, ldb: 2,
                      beta: 0.5, c: &c, ldc: 2)
        XCTAssertEqual(c, [0.5, 1, 1.5, 2])
    }

    /// Runs the GEMM on operands stored with padded leading dimensions (the padding holds NaN,
    /// so a kernel reading outside the op(A)/op(B) window poisons C) and compares with the
    /// reference on the tight copies.
    private func checkStrided(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, pad: Int, beta: Float = 0,
                              threads: Int, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: UInt64(m * 7919 + n * 31 + k + pad))
        let aRows = transA ? k : m, aCols = transA ? m : k
        let bRows = transB ? n : k, bCols = transB ? k : n
        let lda = aCols + pad, ldb = bCols + pad, ldc = n + pad
        let a = (0..<(m * k)).map { _ in rng.normal() }, b = (0..<(k * n)).map { _ in rng.normal() }
        let c0 = (0..<(m * n)).map { _ in beta == 0 ? Float.nan : rng.normal() }
        var aPadded = [Float](repeating: .nan, count: aRows * lda)
        for r in 0..<aRows { for j in 0..<aCols { aPadded[r * lda + j] = a[r * aCols + j] } }
        var bPadded = [Float](repeating: .nan, count: bRows * ldb)
        for r in 0..<bRows { for j in 0..<bCols { bPadded[r * ldb + j] = b[r * bCols + j] } }
        var cPadded = [Float](repeating: -7, count: m * ldc)
        for i in 0..<m { for j in 0..<n { cPadded[i * ldc + j] = c0[i * n + j] } }
        Gemm.multiply(transA: transA, transB: transB, m: m, n: n, k: k, a: aPadded, lda: lda, b: bPadded, ldb: ldb,
                      beta: beta, c: &cPadded, ldc: ldc, threads: threads)
        let want = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, b: b, beta: beta, c: c0)
        var worst: Float = 0, paddingIntact = true
        for i in 0..<m {
            for j in 0..<n {
                let err = abs(cPadded[i * ldc + j] - want[i * n + j]) / (Float(k).squareRoot() + abs(want[i * n + j]))
                worst = max(worst, err.isNaN ? .infinity : err)
            }
            for j in n..<ldc where cPadded[i * ldc + j] != -7 { paddingIntact = false }
        }
        let what = "m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) pad=\(pad) threads=\(threads)"
        XCTAssertLessThan(worst, 1e-5, what, file: file, line: line)
        XCTAssertTrue(paddingIntact, "C written outside its n columns: " + what, file: file, line: line)
    }

    /// A is read in place for narrow C (n ≤ 512, or transposed A with a short row) and packed
    /// otherwise; both, with every row and column tail (m mod 6, n mod 16), pass depths that
    /// do not divide k, padded leading dimensions and 1 or 2 threads, must match the reference.
    func testInPlaceAndPackedAPathsWithTailsAndStrides() {
        let shapes = [(61, 64, 147), (37, 21, 577), (13, 600, 70), (200, 35, 65), (64, 147, 300), (97, 530, 33)]
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for threads in [1, 2] {
                    checkStrided(m: m, n: n, k: k, transA: ta, transB: tb, pad: 3, threads: threads)
                }
            }
        }
        checkStrided(m: 61, n: 64, k: 147, transA: false, transB: true, pad: 5, beta: 0.5, threads: 2)
        checkStrided(m: 64, n: 147, k: 300, transA: true, transB: false, pad: 1, beta: 1, threads: 1)
    }

    /// A row of C must not depend on how many rows share the call, on the thread count, or on
    /// whether A was packed (m = 1 reads a transposed A in place, m = 200 packs it): each
    /// element sees the same FMA sequence, so the results are bitwise equal.
    func testRowResultsIndependentOfBatchThreadsAndPath() {
        let m = 200, n = 48, k = 300
        for transA in [false, true] {
            var rng = SeededRandom(seed: transA ? 11 : 12)
            let a = (0..<(m * k)).map { _ in rng.normal() }, b = (0..<(k * n)).map { _ in rng.normal() }
            var one = [Float](repeating: 0, count: m * n), two = one
            Gemm.multiply(transA: transA, transB: false, m: m, n: n, k: k, a: a, lda: transA ? m : k, b: b, ldb: n,
                          c: &one, ldc: n, threads: 1)
            Gemm.multiply(transA: transA, transB: false, m: m, n: n, k: k, a: a, lda: transA ? m : k, b: b, ldb: n,
                          c: &two, ldc: n, threads: 2)
            XCTAssertEqual(one, two, "1 and 2 threads differ, transA=\(transA)")
            for i in [0, 7, 131, 199] {
                let row = (0..<k).map { p in transA ? a[p * m + i] : a[i * k + p] }
                var single = [Float](repeating: 0, count: n)
                Gemm.multiply(transA: transA, transB: false, m: 1, n: n, k: k, a: row, lda: transA ? 1 : k, b: b, ldb: n,
                              c: &single, ldc: n, threads: 1)
                XCTAssertEqual(single, Array(one[(i * n)..<((i + 1) * n)]), "row \(i) alone differs, transA=\(transA)")
            }
        }
    }
}
