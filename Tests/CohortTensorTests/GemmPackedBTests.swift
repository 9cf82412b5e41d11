import XCTest
import CohortTensor

/// `Gemm.multiply(packedB:)` against the ordinary `Gemm.multiply` on the same operands: the
/// packed panels must be exactly what per-call packing writes, so the results are bitwise
/// equal, for every tail (m mod 6, n mod 16), several passes over k, more than one column
/// block (n > 3072), both layouts of B, transposed A, alpha/beta and 1 or 2 threads.
final class GemmPackedBTests: XCTestCase {
    private func compare(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float = 1, beta: Float = 0,
                         threads: Int, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: UInt64(m * 7919 + n * 31 + k))
        let a = (0..<(m * k)).map { _ in rng.normal() }
        let b = (0..<(k * n)).map { _ in rng.normal() }
        let c0 = (0..<(m * n)).map { _ in beta == 0 ? Float.nan : rng.normal() }
        var want = c0, got = c0
        Gemm.multiply(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: transA ? m : k,
                      b: b, ldb: transB ? k : n, beta: beta, c: &want, ldc: n, threads: threads)
        let packed = b.withUnsafeBufferPointer { GemmPackedB(transB: transB, b: $0.baseAddress!, ldb: transB ? k : n, k: k, n: n) }
        XCTAssertEqual(packed.k, k)
        XCTAssertEqual(packed.n, n)
        a.withUnsafeBufferPointer { pa in
            got.withUnsafeMutableBufferPointer { pc in
                Gemm.multiply(transA: transA, m: m, alpha: alpha, a: pa.baseAddress!, lda: transA ? m : k, packedB: packed,
                              beta: beta, c: pc.baseAddress!, ldc: n, threads: threads)
            }
        }
        let what = "m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) alpha=\(alpha) beta=\(beta) threads=\(threads)"
        XCTAssertFalse(got.contains { $0.isNaN }, "C left unwritten: " + what, file: file, line: line)
        XCTAssertEqual(got, want, "packed B differs from per-call packing: " + what, file: file, line: line)
    }

    func testPackedBEqualsPerCallPacking() {
        // ViT-Tiny's projections (rows cut to keep the test quick), tails, k over several
        // passes (577 = 3 passes of at most 256), tiny products, and two column blocks.
        let shapes = [(130, 576, 192), (61, 192, 768), (37, 21, 577), (7, 5, 3), (1, 16, 1), (200, 35, 65), (13, 3100, 20)]
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, true), (false, false), (true, true)] {
                for threads in [1, 2] {
                    compare(m: m, n: n, k: k, transA: ta, transB: tb, threads: threads)
                }
            }
        }
        compare(m: 130, n: 576, k: 192, transA: false, transB: true, alpha: 0.5, beta: 1, threads: 2)
        compare(m: 61, n: 50, k: 300, transA: false, transB: true, alpha: 1, beta: 0.25, threads: 1)
    }

    /// The packed weight of `x·Wᵀ` against a plain Double computation (so the comparison above
    /// is not two equal wrong answers).
    func testPackedWeightProductMatchesReference() {
        let m = 50, units = 40, inputs = 70
        var rng = SeededRandom(seed: 5)
        let x = (0..<(m * inputs)).map { _ in rng.normal() }
        let w = (0..<(units * inputs)).map { _ in rng.normal() }
        let packed = GemmPackedB.weight(w, units: units, inputs: inputs)
        var y = [Float](repeating: .nan, count: m * units)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                Gemm.multiply(transA: false, m: m, a: px.baseAddress!, lda: inputs, packedB: packed, c: py.baseAddress!, ldc: units)
            }
        }
        var worst: Double = 0
        for i in 0..<m {
            for j in 0..<units {
                var s = 0.0
                for p in 0..<inputs { s += Double(x[i * inputs + p]) * Double(w[j * inputs + p]) }
                worst = max(worst, abs(Double(y[i * units + j]) - s) / (Double(inputs).squareRoot() + abs(s)))
            }
        }
        XCTAssertLessThan(worst, 1e-5)
    }
}
