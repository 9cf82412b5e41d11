/// Convenience entry points for GEMM on whole arrays and tensors.
extension Gemm {
    /// `C = alpha·op(A)·op(B) + beta·C` on arrays with tight leading dimensions.
    public static func multiply(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                a: [Float], lda: Int, b: [Float], ldb: Int, beta: Float = 0,
                                c: inout [Float], ldc: Int, threads: Int = 0) {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    multiply(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                             a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                             beta: beta, c: pc.baseAddress!, ldc: ldc, threads: threads)
                }
            }
        }
    }
}
