import CohortTensor
import Foundation

/// How one site's scanner turns an anatomy (true tissue intensities, roughly 0…1) into the
/// image it stores. Applied in acquisition order:
///
/// 1. point-spread blur: Gaussian of `blur` pixels (σ);
/// 2. a smooth multiplicative bias field `1 + fx·u + fy·v + fxx·(u²−⅓) + fyy·(v²−⅓) + fxy·u·v`
///    over `u, v ∈ [−1, 1]` (clamped to ≥ 0.2); each scan's coefficients vary by `fieldJitter`
///    (relative, patient positioning) around the scanner's;
/// 3. acquisition at `resolution` × `resolution` pixels (area average) when below the
///    native 32;
/// 4. detector response `gain · max(x, 0)^gamma + bias`;
/// 5. Gaussian noise of standard deviation `noise` at the acquisition resolution;
/// 6. reconstruction back to 32 × 32 (bilinear), so a low-resolution scanner has smoother
///    images with correlated noise.
public struct SyntheticImagingScanner: Sendable, Equatable {
    /// Multiplicative intensity gain.
    public var gain: Float
    /// Additive intensity offset.
    public var bias: Float
    /// Detector non-linearity exponent (1 = linear).
    public var gamma: Float
    /// Noise standard deviation (intensity units).
    public var noise: Float
    /// Point-spread σ in pixels.
    public var blur: Float
    /// Acquisition matrix size (≤ 32; 32 = no resolution change).
    public var resolution: Int
    /// Bias-field coefficients `[fx, fy, fxx, fyy, fxy]`.
    public var field: [Float]
    /// Per-scan relative variation of the bias-field coefficients.
    public var fieldJitter: Float

    /// A scanner with every parameter given.
    public init(gain: Float = 1, bias: Float = 0, gamma: Float = 1, noise: Float = 0.03, blur: Float = 0.5, resolution: Int = 32,
                field: [Float] = [0, 0, 0, 0, 0], fieldJitter: Float = 0.25) {
        precondition(field.count == 5, "bias field takes 5 coefficients [fx, fy, fxx, fyy, fxy], got \(field.count)")
        precondition(resolution >= 4 && resolution <= 32, "resolution must be in 4…32, got \(resolution)")
        precondition(gain > 0 && gamma > 0 && noise >= 0 && blur >= 0, "scanner needs gain > 0, gamma > 0, noise ≥ 0, blur ≥ 0")
        self.gain = gain; self.bias = bias; self.gamma = gamma; self.noise = noise; self.blur = blur
        self.resolution = resolution; self.field = field; self.fieldJitter = fieldJitter
    }

    /// The source domain's reference scanner: linear, no offset, mild blur and noise, flat field.
    public static let reference = SyntheticImagingScanner()

    /// The five hospital scanner archetypes, in hospital order for the default cohort.
    public static let archetypes: [SyntheticImagingScanner] = [
        // 0: same vendor as the reference, slightly recalibrated (close to the source).
        SyntheticImagingScanner(gain: 1.02, bias: 0.0, gamma: 1.0, noise: 0.032, blur: 0.55, field: [0.02, -0.01, 0, 0, 0]),
        // 1: old low-resolution scanner: dim, compressed contrast, noisy, blurred, strong shading.
        SyntheticImagingScanner(gain: 0.8, bias: 0.10, gamma: 1.25, noise: 0.045, blur: 0.6, resolution: 16,
                                field: [0.15, 0.10, -0.08, 0.06, 0.05]),
        // 2: another vendor, moderate shift.
        SyntheticImagingScanner(gain: 1.2, bias: -0.04, gamma: 0.85, noise: 0.04, blur: 0.7, field: [-0.08, 0.06, 0.05, -0.04, 0]),
        // 3: strongly shifted: high gain, negative offset, expanded dark range, sharp but 24-pixel matrix.
        SyntheticImagingScanner(gain: 1.4, bias: -0.10, gamma: 0.7, noise: 0.05, blur: 0.35, resolution: 24,
                                field: [0.05, -0.15, 0.10, 0.08, -0.06]),
        // 4: mild shift.
        SyntheticImagingScanner(gain: 0.9, bias: 0.04, gamma: 1.1, noise: 0.04, blur: 0.8, field: [0.05, 0.05, -0.03, 0.02, 0.02]),
    ]

    /// The scanner of hospital `hospital` (0-based) with profile `profile`: the archetype for
    /// the first five hospitals; later ones get a seeded variation of it.
    public static func hospital(profile: Int, hospital: Int, seed: UInt64) -> SyntheticImagingScanner {
        var s = archetypes[profile % archetypes.count]
        guard hospital >= archetypes.count else { return s }
        var rng = SeededRandom(seed: seed).derived(stream: 0x5CA7_0000 + UInt64(hospital))
        func jitter(_ v: Float, _ rel: Float) -> Float { v * expf(rel * rng.normal()) }
        s.gain = jitter(s.gain, 0.1)
        s.bias += 0.03 * rng.normal()
        s.gamma = jitter(s.gamma, 0.08)
        s.noise = jitter(s.noise, 0.15)
        s.blur = jitter(s.blur, 0.2)
        s.field = s.field.map { $0 * (rng.uniform() < 0.5 ? -1 : 1) + 0.02 * rng.normal() }
        return s
    }

    /// The parameters as a flat name → number dictionary (for the cohort manifest).
    public var parameters: [String: Double] {
        var p: [String: Double] = [
            "gain": Double(gain), "bias": Double(bias), "gamma": Double(gamma), "noise": Double(noise),
            "blur": Double(blur), "resolution": Double(resolution), "fieldJitter": Double(fieldJitter),
        ]
        for (name, v) in zip(["field.x", "field.y", "field.xx", "field.yy", "field.xy"], field) { p[name] = Double(v) }
        return p.mapValues { ($0 * 1e6).rounded() / 1e6 }
    }

    /// Scratch space and precomputed filters for acquiring many scans on one thread.
    final class Workspace {
        let size: Int
        let kernel: [Float]
        let down: [Float], up: [Float]
        var scratch: [Float]
        var low: [Float]
        /// The five bias-field basis images, `5 × size²`.
        let basis: [Float]

        init(scanner: SyntheticImagingScanner, size: Int) {
            self.size = size
            kernel = ImageFilters.gaussianKernel(sigma: scanner.blur)
            down = ImageFilters.resampleMatrix(from: size, to: scanner.resolution)
            up = ImageFilters.resampleMatrix(from: scanner.resolution, to: size)
            scratch = [Float](repeating: 0, count: size * size)
            low = [Float](repeating: 0, count: size * size)
            var b = [Float](repeating: 0, count: 5 * size * size)
            for y in 0..<size {
                for x in 0..<size {
                    let u = (Float(x) + 0.5) / Float(size) * 2 - 1, v = (Float(y) + 0.5) / Float(size) * 2 - 1
                    let i = y * size + x, n = size * size
                    b[i] = u; b[n + i] = v; b[2 * n + i] = u * u - 1 / 3; b[3 * n + i] = v * v - 1 / 3; b[4 * n + i] = u * v
                }
            }
            basis = b
        }
    }

    /// Turns the anatomy in `image` (`size × size`) into this scanner's image, in place.
    func acquire(_ image: UnsafeMutablePointer<Float>, rng: inout SeededRandom, workspace w: Workspace) {
        let size = w.size, n = size * size
        w.scratch.withUnsafeMutableBufferPointer { scratch in
            ImageFilters.convolveSeparable(image, size: size, kernel: w.kernel, scratch: scratch.baseAddress!)
        }
        if field.contains(where: { $0 != 0 }) {
            var c = field
            for k in 0..<5 { c[k] *= 1 + fieldJitter * rng.normal() }
            w.basis.withUnsafeBufferPointer { b in
                for i in 0..<n {
                    let f = 1 + c[0] * b[i] + c[1] * b[n + i] + c[2] * b[2 * n + i] + c[3] * b[3 * n + i] + c[4] * b[4 * n + i]
                    image[i] *= max(f, 0.2)
                }
            }
        }
        let r = resolution
        w.low.withUnsafeMutableBufferPointer { lowBuffer in
            w.scratch.withUnsafeMutableBufferPointer { scratch in
                let low = lowBuffer.baseAddress!
                let target = r < size ? low : image
                if r < size {
                    ImageFilters.resample(image, from: size, into: low, to: r, matrix: w.down, scratch: scratch.baseAddress!)
                }
                let m = r * r
                if gamma == 1 {
                    for i in 0..<m { target[i] = gain * max(target[i], 0) + bias }
                } else {
                    for i in 0..<m { target[i] = gain * powf(max(target[i], 0), gamma) + bias }
                }
                if noise > 0 { for i in 0..<m { target[i] += noise * rng.normal() } }
                if r < size {
                    ImageFilters.resample(low, from: r, into: image, to: size, matrix: w.up, scratch: scratch.baseAddress!)
                }
            }
        }
    }
}
