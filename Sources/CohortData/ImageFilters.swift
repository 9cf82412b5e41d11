/// Separable filters on square single-channel images stored row-major in caller-owned buffers,
/// for the synthetic scanner. No allocation per call.
enum ImageFilters {
    /// A normalised 1-D Gaussian kernel of standard deviation `sigma` pixels, radius ⌈3σ⌉ (≤ 5).
    static func gaussianKernel(sigma: Float) -> [Float] {
        guard sigma > 0.05 else { return [1] }
        let radius = min(5, Int((3 * sigma).rounded(.up)))
        var k = (-radius...radius).map { d -> Float in
            let x = Float(d)
            return expf(-x * x / (2 * sigma * sigma))
        }
        let sum = k.reduce(0, +)
        for i in k.indices { k[i] /= sum }
        return k
    }

    /// Convolves `image` (`size × size`) with `kernel` along rows then columns, in place, edges
    /// clamped. `scratch` holds at least `size × size` floats.
    static func convolveSeparable(_ image: UnsafeMutablePointer<Float>, size: Int, kernel: [Float], scratch: UnsafeMutablePointer<Float>) {
        guard kernel.count > 1 else { return }
        let r = kernel.count / 2
        kernel.withUnsafeBufferPointer { k in
            for y in 0..<size {
                let row = image + y * size
                for x in 0..<size {
                    var s: Float = 0
                    for t in -r...r { s += k[t + r] * row[min(max(x + t, 0), size - 1)] }
                    scratch[y * size + x] = s
                }
            }
            for y in 0..<size {
                for x in 0..<size {
                    var s: Float = 0
                    for t in -r...r { s += k[t + r] * scratch[min(max(y + t, 0), size - 1) * size + x] }
                    image[y * size + x] = s
                }
            }
        }
    }

    /// The `to × from` matrix resampling a 1-D signal of `from` pixels to `to` pixels: area
    /// averaging when shrinking (each output pixel averages the input it covers), linear
    /// interpolation between pixel centres when enlarging.
    static func resampleMatrix(from: Int, to: Int) -> [Float] {
        var m = [Float](repeating: 0, count: to * from)
        if to <= from {
            let s = Double(from) / Double(to)
            for i in 0..<to {
                let lo = Double(i) * s, hi = Double(i + 1) * s
                for k in Int(lo.rounded(.down))..<min(from, Int(hi.rounded(.up))) {
                    let overlap = min(hi, Double(k + 1)) - max(lo, Double(k))
                    if overlap > 0 { m[i * from + k] = Float(overlap / s) }
                }
            }
        } else {
            for j in 0..<to {
                let x = min(max((Double(j) + 0.5) * Double(from) / Double(to) - 0.5, 0), Double(from - 1))
                let k0 = Int(x.rounded(.down)), k1 = min(k0 + 1, from - 1)
                let t = Float(x - Double(k0))
                m[j * from + k0] += 1 - t
                m[j * from + k1] += t
            }
        }
        return m
    }

    /// Resamples `source` (`from × from`) into `destination` (`to × to`) with a matrix from
    /// `resampleMatrix(from:to:)`, rows then columns. `scratch` holds at least `from × to` floats.
    static func resample(_ source: UnsafePointer<Float>, from: Int, into destination: UnsafeMutablePointer<Float>, to: Int,
                         matrix: [Float], scratch: UnsafeMutablePointer<Float>) {
        matrix.withUnsafeBufferPointer { m in
            // scratch[k][j] = Σ_l m[j][l] · source[k][l]
            for k in 0..<from {
                for j in 0..<to {
                    var s: Float = 0
                    for l in 0..<from { s += m[j * from + l] * source[k * from + l] }
                    scratch[k * to + j] = s
                }
            }
            // destination[i][j] = Σ_k m[i][k] · scratch[k][j]
            for i in 0..<to {
                for j in 0..<to { destination[i * to + j] = 0 }
                for k in 0..<from {
                    let w = m[i * from + k]
                    if w == 0 { continue }
                    for j in 0..<to { destination[i * to + j] += w * scratch[k * to + j] }
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
