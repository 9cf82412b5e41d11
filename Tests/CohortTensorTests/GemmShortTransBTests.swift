import XCTest
@testable import CohortTensor

/// `Gemm.blockedShortTransB` (X·Wᵀ with few rows: every pass of Bᵀ packed at once, 8×8 blocks
/// transposed in registers) must give bit for bit what the general loop gives.
final class GemmShortTransBTests: XCTestCase {
    private func run(_ general: Bool, transA: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float,
                     a: [Float], lda: Int, b: [Float], ldb: Int, c: [Float], ldc: Int) -> [Float] {
        var out = c
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    if general {
                        Gemm.blockedGeneral(transA: transA, transB: true, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda,
                                            b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                    } else {
                        Gemm.blocked(transA: transA, transB: true, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda,
                                     b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                    }
                }
            }
        }
        return out
    }

    func testSameBitsAsTheGeneralLoop() {
        // Tails everywhere: m not a multiple of 6, n not of 16 (a zero-padded panel) nor of the
        // 256-column block, k not of 8 per pass; k from two to several passes; strided rows;
        // A packed (n > 512) and read in place (n ≤ 512, or transposed with a short row).
        // (5, 300, 9000): deep enough that a block holds 112 columns, not 256 (the scratch budget).
        let shapes = [(32, 1000, 1000), (1, 37, 257), (7, 600, 777), (144, 530, 513), (13, 16, 1031), (96, 2049, 300), (5, 300, 9000)]
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (1, -0.25)] {
                    XCTAssertTrue(Gemm.takesShortTransB(transB: true, m: m, k: k, packed: nil), "m=\(m) k=\(k) must take the short path")
                    var rng = SeededRandom(seed: UInt64(m * 7 + n * 3 + k))
                    let pad = 3
                    let lda = (transA ? m : k) + pad, ldb = k + pad, ldc = n + pad
                    let a = (0..<((transA ? k : m) * lda)).map { _ in rng.normal() }
                    let b = (0..<(n * ldb)).map { _ in rng.normal() }
                    let c = (0..<(m * ldc)).map { _ in beta == 0 ? Float.nan : rng.normal() }
                    let fast = run(false, transA: transA, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
                    let slow = run(true, transA: transA, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
                    let differing = zip(fast, slow).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern
                        && !($0.element.0.isNaN && $0.element.1.isNaN) }
                    XCTAssertNil(differing, "m=\(m) n=\(n) k=\(k) transA=\(transA) alpha=\(alpha) beta=\(beta): first difference at \(differing?.offset ?? -1)")
                    // The padding between rows of C is never written.
                    for i in 0..<m where beta != 0 {
                        for j in n..<ldc { XCTAssertEqual(fast[i * ldc + j], c[i * ldc + j]) }
                    }
                }
            }
        }
    }

    /// A dense layer's output row must not depend on the batch it came in: 200 rows take the
    /// general loop, each row alone the short path; the bits agree, on one thread and two.
    func testARowAloneMatchesItsRowInALargeBatch() {
        let m = 200, n = 300, k = 600
        var rng = SeededRandom(seed: 21)
        let x = (0..<(m * k)).map { _ in rng.normal() }, w = (0..<(n * k)).map { _ in rng.normal() }
        XCTAssertFalse(Gemm.takesShortTransB(transB: true, m: m, k: k, packed: nil))
        var batch = [Float](repeating: 0, count: m * n)
        Gemm.multiply(transA: false, transB: true, m: m, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: &batch, ldc: n, threads: 1)
        for threads in [1, 2] {
            for i in [0, 5, 77, 199] {
                var single = [Float](repeating: 0, count: n)
                Gemm.multiply(transA: false, transB: true, m: 1, n: n, k: k, a: Array(x[(i * k)..<((i + 1) * k)]), lda: k, b: w, ldb: k,
                              c: &single, ldc: n, threads: threads)
                XCTAssertEqual(single.map(\.bitPattern), batch[(i * n)..<((i + 1) * n)].map(\.bitPattern), "row \(i), \(threads) thread(s)")
            }
        }
    }

    /// The short path packs all of A at once: a dense layer fed a flattened image (k ≈ 150,000)
    /// keeps the general loop instead of packing 86 MB.
    func testLargeProductsKeepTheGeneralLoop() {
        XCTAssertTrue(Gemm.takesShortTransB(transB: true, m: 32, k: 1000, packed: nil))
        XCTAssertFalse(Gemm.takesShortTransB(transB: true, m: 144, k: 150_528, packed: nil))
        XCTAssertFalse(Gemm.takesShortTransB(transB: true, m: 1, k: 70_000, packed: nil), "a block of B would not fit the scratch budget")
        XCTAssertFalse(Gemm.takesShortTransB(transB: true, m: 145, k: 1000, packed: nil))
        XCTAssertFalse(Gemm.takesShortTransB(transB: false, m: 32, k: 1000, packed: nil))
    }

    func testTheRegisterTransposeIsATranspose() {
        let rows = (0..<8).map { r in SIMD8<Float>((0..<8).map { Float(r * 8 + $0) }) }
        let t = GemmPacking.transposed8x8(rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], rows[6], rows[7])
        let columns = [t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7]
        for p in 0..<8 {
            for r in 0..<8 { XCTAssertEqual(columns[p][r], Float(r * 8 + p)) }
        }
    }
}
