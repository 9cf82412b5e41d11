/// SIMD loops over raw float buffers, shared by layers and optimizers.
public enum VectorKernels {
    /// `y += alpha · x` over `count` elements.
    @inlinable
    public static func axpy(count: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        var i = 0
        let a = SIMD8<Float>(repeating: alpha)
        let xr = UnsafeRawPointer(x), yr = UnsafeMutableRawPointer(y)
        while i + 8 <= count {
            let xv = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let yv = yr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            yr.storeBytes(of: yv.addingProduct(a, xv), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < count { y[i] += alpha * x[i]; i &+= 1 }
    }

    /// Adds `bias[j]` to every row of a `rows × cols` matrix.
    @inlinable
    public static func addRowVector(rows: Int, cols: Int, bias: UnsafePointer<Float>, to m: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { axpy(count: cols, alpha: 1, x: bias, y: m + r * cols) }
    }
}
