/// Layer normalisation over the last axis of a `rows × features` matrix, eight features at a
/// time and rows split across the worker pool when the matrix is large (`NormKernels`).
public enum LayerNormKernels {
    /// `x̂ = (x − mean_r)·invStd_r` with each row's mean and biased variance, `y = x̂·γ + β`;
    /// `x̂` and the per-row `invStd` are stored when the pointers are not nil.
    public static func forward(rows: Int, features f: Int, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                               beta: UnsafePointer<Float>, epsilon: Float, normalized: UnsafeMutablePointer<Float>?,
                               inverseStd: UnsafeMutablePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        let px = SendablePointer(x), pg = SendablePointer(gamma), pb = SendablePointer(beta), py = SendableMutablePointer(y)
        let pn = normalized.map(SendableMutablePointer.init), pi = inverseStd.map(SendableMutablePointer.init)
        NormKernels.forRowSlices(rows: rows, channels: f) { _, lo, hi in
            let g = UnsafeRawPointer(pg.p), b = UnsafeRawPointer(pb.p)
            for r in lo..<hi {
                let src = px.p + r * f, xr = UnsafeRawPointer(src)
                var acc = SIMD8<Float>(), j = 0
                while j + 8 <= f { acc += xr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self); j &+= 8 }
                var tail: Float = 0
                while j < f { tail += src[j]; j &+= 1 }
                let mean = (acc.sum() + tail) / Float(f)
                let mv = SIMD8<Float>(repeating: mean)
                var sq = SIMD8<Float>()
                j = 0
                while j + 8 <= f {
                    let d = xr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - mv
                    sq = sq.addingProduct(d, d)
                    j &+= 8
                }
                var sqTail: Float = 0
                while j < f { let d = src[j] - mean; sqTail += d * d; j &+= 1 }
                let inv = 1 / ((sq.sum() + sqTail) / Float(f) + epsilon).squareRoot()
                pi?.p[r] = inv
                let iv = SIMD8<Float>(repeating: inv)
                let yr = UnsafeMutableRawPointer(py.p + r * f), nr = pn.map { UnsafeMutableRawPointer($0.p + r * f) }
                j = 0
                while j + 8 <= f {
                    let o = j * 4
                    let v = (xr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) - mv) * iv
                    nr?.storeBytes(of: v, toByteOffset: o, as: SIMD8<Float>.self)
                    yr.storeBytes(of: b.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                                    .addingProduct(v, g.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)),
                                  toByteOffset: o, as: SIMD8<Float>.self)
                    j &+= 8
                }
                while j < f {
                    let v = (src[j] - mean) * inv
                    pn?.p[r * f + j] = v
                    py.p[r * f + j] = v * pg.p[j] + pb.p[j]
                    j &+= 1
                }
            }
        }
    }

    /// The input gradient `dx = invStd·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂))` with `ĝ = dy ⊙ γ`, per row.
    public static func backwardInput(rows: Int, features f: Int, dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>,
                                     gamma: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let pd = SendablePointer(dy), pn = SendablePointer(normalized), pg = SendablePointer(gamma)
        let pi = SendablePointer(inverseStd), px = SendableMutablePointer(dx)
        NormKernels.forRowSlices(rows: rows, channels: f) { _, lo, hi in
            let w = UnsafeRawPointer(pg.p)
            for r in lo..<hi {
                let dr = UnsafeRawPointer(pd.p + r * f), nr = UnsafeRawPointer(pn.p + r * f)
                var s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), j = 0
                while j + 8 <= f {
                    let o = j * 4
                    let gh = dr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * w.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                    s1 += gh
                    s2 = s2.addingProduct(gh, nr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                    j &+= 8
                }
                var t1: Float = 0, t2: Float = 0
                while j < f {
                    let gh = pd.p[r * f + j] * pg.p[j]
                    t1 += gh; t2 += gh * pn.p[r * f + j]
                    j &+= 1
                }
                let m1 = (s1.sum() + t1) / Float(f), m2 = (s2.sum() + t2) / Float(f), inv = pi.p[r]
                let m1v = SIMD8<Float>(repeating: m1), m2v = SIMD8<Float>(repeating: m2), iv = SIMD8<Float>(repeating: inv)
                let out = UnsafeMutableRawPointer(px.p + r * f)
                j = 0
                while j + 8 <= f {
                    let o = j * 4
                    let gh = dr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * w.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                    let v = (gh - m1v - nr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * m2v) * iv
                    out.storeBytes(of: v, toByteOffset: o, as: SIMD8<Float>.self)
                    j &+= 8
                }
                while j < f {
                    let i = r * f + j
                    px.p[i] = inv * (pd.p[i] * pg.p[j] - m1 - pn.p[i] * m2)
                    j &+= 1
                }
            }
        }
    }
}
