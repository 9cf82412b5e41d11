/// Vectorised `erf` and `exp` on `SIMD8<Float>` for elementwise layers (GELU), where calling
/// the C library per element costs more than the surrounding matrix products.
enum VectorMath {
    /// `erf(x)`: Eigen's rational approximation on [−4, 4] (clamped outside, where |erf| rounds
    /// to 1 in float). Maximum absolute error 4.5e-7 (measured on a 1e-4 grid over [−8, 8]).
    @inline(__always)
    static func erf(_ x0: SIMD8<Float>) -> SIMD8<Float> {
        let x = clamp(x0, -4, 4)
        let x2 = x * x
        var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
        p = p * x2 + -2.10102402082508e-06
        p = p * x2 + -5.69250639462346e-05
        p = p * x2 + -7.34990630326855e-04
        p = p * x2 + -2.95459980854025e-03
        p = p * x2 + -1.60960333262415e-02
        p = p * x
        var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04
        q = q * x2 + -1.68282697438203e-03
        q = q * x2 + -7.37332916720468e-03
        q = q * x2 + -1.42647390514189e-02
        return p / q
    }

    /// `exp(x)` (Cephes `expf`: x = n·ln2 + r, a degree-6 polynomial in r, times 2ⁿ), relative
    /// error about 1e-7; inputs are clamped to [−87, 88], so very negative x gives ~1e-38, not 0.
    @inline(__always)
    static func exp(_ x0: SIMD8<Float>) -> SIMD8<Float> {
        let x = clamp(x0, -87, 88)
        // Adding 1.5·2²³ rounds x·log2(e) to the nearest integer n and leaves n in the low
        // mantissa bits of t, from which 2ⁿ is built (no float→int conversion, which the
        // generic SIMD initialiser does lane by lane).
        let t = x * 1.44269504088896341 + 12582912
        let n = t - 12582912
        let r = x - n * 0.693359375 - n * -2.12194440e-4
        var y = r * 1.9875691500e-4 + 1.3981999507e-3
        y = y * r + 8.3334519073e-3
        y = y * r + 4.1665795894e-2
        y = y * r + 1.6666665459e-1
        y = y * r + 5.0000001201e-1
        y = y * (r * r) + r + 1
        let twoToN = unsafeBitCast((unsafeBitCast(t, to: SIMD8<UInt32>.self) &+ 127) &<< 23, to: SIMD8<Float>.self)
        return y * twoToN
    }

    /// `x` limited to [lo, hi] (comparisons and selects: `clamped` and `pointwiseMin` are not
    /// inlined and run lane by lane).
    @inline(__always)
    static func clamp(_ x: SIMD8<Float>, _ lo: Float, _ hi: Float) -> SIMD8<Float> {
        let low = x.replacing(with: lo, where: x .< lo)
        return low.replacing(with: hi, where: low .> hi)
    }

    /// GELU (exact erf form) of `count` values: `y = x·Φ(x)`.
    static func gelu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        @inline(__always) func f(_ v: SIMD8<Float>) -> SIMD8<Float> { 0.5 * v * (1 + erf(v * 0.70710678)) }
        let whole = count / 8 * 8
        var i = 0
        while i < whole {
            store(f(load(x + i, 8)), y + i, 8)
            i &+= 8
        }
        // The tail goes through the same vector code (zero-padded), so a value's result does
        // not depend on its position.
        if whole < count { store(f(load(x + whole, count - whole)), y + whole, count - whole) }
    }

    /// GELU's backward: `dx = dy · (Φ(x) + x·φ(x))`.
    static func geluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int) {
        @inline(__always) func f(_ v: SIMD8<Float>, _ g: SIMD8<Float>) -> SIMD8<Float> {
            let cdf = 0.5 * (1 + erf(v * 0.70710678))
            let pdf = 0.39894228 * exp(-0.5 * v * v)
            return g * (cdf + v * pdf)
        }
        let whole = count / 8 * 8
        var i = 0
        while i < whole {
            store(f(load(x + i, 8), load(dy + i, 8)), dx + i, 8)
            i &+= 8
        }
        if whole < count {
            let n = count - whole
            store(f(load(x + whole, n), load(dy + whole, n)), dx + whole, n)
        }
    }

    /// Loads `n` ≤ 8 values from `p` (zero-padded).
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ n: Int) -> SIMD8<Float> {
        if n == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        var v = SIMD8<Float>.zero
        for j in 0..<n { v[j] = p[j] }
        return v
    }

    /// Stores the first `n` ≤ 8 lanes of `v` to `p`.
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self); return }
        for j in 0..<n { p[j] = v[j] }
    }
}
