/// Elementwise arithmetic, reductions and row-wise operations on tensors.
extension Tensor {
    private static func checkSameShape(_ a: Tensor, _ b: Tensor, _ op: String) {
        precondition(a.shape == b.shape, "\(op): shapes \(a.shape) and \(b.shape) differ")
    }

    /// Elementwise sum.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape(a, b, "+")
        var out = a
        out.add(b)
        return out
    }

    /// Elementwise difference.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape(a, b, "-")
        var out = a
        out.add(b, scaledBy: -1)
        return out
    }

    /// Elementwise (Hadamard) product.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape(a, b, "*")
        var out = a
        out.data.withUnsafeMutableBufferPointer { o in
            b.data.withUnsafeBufferPointer { q in
                for i in 0..<o.count { o[i] *= q[i] }
            }
        }
        return out
    }

    /// Every element multiplied by a scalar.
    public static func * (a: Tensor, s: Float) -> Tensor {
        var out = a
        out.scale(by: s)
        return out
    }

    /// In place: `self += scale · other` (axpy).
    public mutating func add(_ other: Tensor, scaledBy scale: Float = 1) {
        Tensor.checkSameShape(self, other, "add")
        data.withUnsafeMutableBufferPointer { o in
            other.data.withUnsafeBufferPointer { q in
                VectorKernels.axpy(count: o.count, alpha: scale, x: q.baseAddress!, y: o.baseAddress!)
            }
        }
    }

    /// In place: every element multiplied by `s`.
    public mutating func scale(by s: Float) {
        data.withUnsafeMutableBufferPointer { o in
            for i in 0..<o.count { o[i] *= s }
        }
    }

    /// In place: every element set to `value`.
    public mutating func fill(_ value: Float) {
        data.withUnsafeMutableBufferPointer { $0.update(repeating: value) }
    }

    /// Elementwise map into a new tensor.
    public func map(_ f: (Float) -> Float) -> Tensor {
        Tensor(shape: shape, data: data.map(f))
    }

    /// Sum of all elements (accumulated in Double).
    public func sum() -> Float {
        data.withUnsafeBufferPointer { p in
            var s = 0.0
            for v in p { s += Double(v) }
            return Float(s)
        }
    }

    /// Mean of all elements.
    public func mean() -> Float { count == 0 ? 0 : sum() / Float(count) }

    /// Squared L2 norm of all elements.
    public func squaredNorm() -> Float {
        data.withUnsafeBufferPointer { p in
            var s = 0.0
            for v in p { s += Double(v) * Double(v) }
            return Float(s)
        }
    }

    /// Sums over the leading dimension: shape `[rows, c…]` → `[c…]` (e.g. a bias gradient).
    public func sumRows() -> Tensor {
        let n = rows, c = columns
        var out = [Float](repeating: 0, count: c)
        data.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<n { VectorKernels.axpy(count: c, alpha: 1, x: p.baseAddress! + i * c, y: o.baseAddress!) }
            }
        }
        return Tensor(shape: Array(shape.dropFirst()), data: out)
    }

    /// Row-wise softmax of a 2-D tensor `[n, classes]`, numerically stable.
    public func softmaxRows() -> Tensor {
        precondition(rank == 2, "softmaxRows needs a 2-D tensor, got shape \(shape)")
        var out = self
        let n = shape[0], c = shape[1]
        out.data.withUnsafeMutableBufferPointer { o in
            for i in 0..<n {
                let row = o.baseAddress! + i * c
                var m = -Float.infinity
                for j in 0..<c { m = Swift.max(m, row[j]) }
                var s: Float = 0
                for j in 0..<c { let e = expf(row[j] - m); row[j] = e; s += e }
                let inv = 1 / s
                for j in 0..<c { row[j] *= inv }
            }
        }
        return out
    }

    /// Index of the largest element in each row of a 2-D tensor (first one on ties).
    public func argmaxRows() -> [Int] {
        precondition(rank == 2, "argmaxRows needs a 2-D tensor, got shape \(shape)")
        let n = shape[0], c = shape[1]
        return data.withUnsafeBufferPointer { p in
            (0..<n).map { i in
                var best = 0
                var bestValue = p[i * c]
                for j in 1..<max(c, 1) where p[i * c + j] > bestValue { best = j; bestValue = p[i * c + j] }
                return best
            }
        }
    }

    /// The transpose of a 2-D tensor.
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed needs a 2-D tensor, got shape \(shape)")
        let n = shape[0], c = shape[1]
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBufferPointer { p in
            for i in 0..<n { for j in 0..<c { out[j * n + i] = p[i * c + j] } }
        }
        return Tensor(shape: [c, n], data: out)
    }

    /// Matrix product of 2-D tensors: `op(a)·op(b)`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul needs 2-D tensors, got \(a.shape) and \(b.shape)")
        let m = transA ? a.shape[1] : a.shape[0]
        let k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0]
        let n = transB ? b.shape[0] : b.shape[1]
        precondition(k == kb, "matmul: inner dimensions differ (\(a.shape)\(transA ? "ᵀ" : "") · \(b.shape)\(transB ? "ᵀ" : ""))")
        var out = [Float](repeating: 0, count: m * n)
        Gemm.multiply(transA: transA, transB: transB, m: m, n: n, k: k, a: a.data, lda: a.shape[1],
                      b: b.data, ldb: b.shape[1], c: &out, ldc: n)
        return Tensor(shape: [m, n], data: out)
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
