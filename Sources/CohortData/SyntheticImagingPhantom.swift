import CohortTensor
import Foundation

/// Draws the anatomy of one synthetic 32×32 axial scan — true tissue intensities before any
/// scanner — with the finding of a class:
///
/// - background: air (0), a body outline with a fat layer and muscle, two dark lung/kidney
///   regions, sometimes a brighter solid organ, a bright vertebra, 0–3 small bright vessel
///   cross-sections (distractors that look like tiny lesions), and fine correlated texture;
/// - class 0 (normal): nothing else;
/// - class 1 (benign): a smooth, homogeneous, well-defined bright ellipse (radius 2.2–4.2 px);
/// - class 2 (malignant): a lesion whose radius is modulated by random harmonics and spicules,
///   heterogeneous, with an ill-defined edge and sometimes a darker necrotic core (2.3–4.8 px).
///
/// Sizes, positions and contrasts overlap between classes so the task is learnable but not
/// trivial: a small benign lesion resembles a vessel, a small low-contrast malignant one
/// resembles a benign one.
enum SyntheticImagingPhantom {
    static let side = 32

    /// Renders into `image` (`side²` floats, overwritten). `noise` is `side²` floats of scratch.
    static func render(label: Int, rng: inout SeededRandom, into image: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<Float>) {
        let s = side, n = s * s
        for i in 0..<n { image[i] = 0 }
        let c = Float(s) / 2
        // Body: outline (fat) and muscle wall.
        let cx = c + 0.7 * rng.normal(), cy = c + 0.7 * rng.normal()
        let a = rng.uniform(12.5, 14.5), b = rng.uniform(10, 12.5), tilt = 0.08 * rng.normal()
        paintEllipse(image, cx: cx, cy: cy, a: a, b: b, angle: tilt, level: rng.uniform(0.20, 0.26), edge: 1.0)
        paintEllipse(image, cx: cx, cy: cy, a: a * 0.86, b: b * 0.84, angle: tilt, level: rng.uniform(0.32, 0.38), edge: 0.8)
        // Two dark regions (lungs or kidneys), left and right.
        for side in [-1 as Float, 1] where rng.uniform() < 0.92 {
            let ox = side * rng.uniform(4.5, 6.5) * a / 13, oy = rng.normal(mean: -1, std: 1)
            paintEllipse(image, cx: cx + ox, cy: cy + oy, a: rng.uniform(2.8, 4.5), b: rng.uniform(4, 6.5),
                         angle: side * rng.uniform(0, 0.3), level: rng.uniform(0.08, 0.15), edge: 0.8)
        }
        // A solid organ, sometimes.
        if rng.uniform() < 0.6 {
            let side: Float = rng.uniform() < 0.5 ? -1 : 1
            paintEllipse(image, cx: cx + side * rng.uniform(2, 6), cy: cy + rng.uniform(1, 4), a: rng.uniform(3, 5), b: rng.uniform(2.5, 4),
                         angle: rng.uniform(-0.6, 0.6), level: rng.uniform(0.42, 0.50), edge: 0.9)
        }
        // Vertebra.
        let spineX = cx + 0.5 * rng.normal(), spineY = cy + b * 0.62
        let spineR = rng.uniform(1.6, 2.3)
        paintEllipse(image, cx: spineX, cy: spineY, a: spineR, b: spineR * rng.uniform(0.85, 1.1), angle: 0, level: rng.uniform(0.75, 0.9), edge: 0.6)
        // Vessels: small bright dots, in every class.
        for _ in 0..<rng.int(below: 4) {
            let (vx, vy) = pointInside(cx: cx, cy: cy, a: a * 0.7, b: b * 0.7, rng: &rng)
            let r = rng.uniform(0.6, 1.3)
            paintEllipse(image, cx: vx, cy: vy, a: r, b: r, angle: 0, level: local(image, vx, vy) + rng.uniform(0.12, 0.30), edge: 0.6)
        }
        // The finding.
        if label > 0 {
            var lx: Float, ly: Float
            repeat {
                (lx, ly) = pointInside(cx: cx, cy: cy, a: a * 0.62, b: b * 0.58, rng: &rng)
            } while (lx - spineX) * (lx - spineX) + (ly - spineY) * (ly - spineY) < 36
            let base = local(image, lx, ly)
            if label == 1 {
                let r = rng.uniform(2.2, 4.2)
                paintEllipse(image, cx: lx, cy: ly, a: r, b: r / rng.uniform(1.0, 1.35), angle: rng.uniform(0, .pi),
                             level: base + rng.uniform(0.18, 0.42), edge: rng.uniform(0.35, 0.55))
            } else {
                fillNoise(noise, count: n, rng: &rng)
                paintIrregular(image, cx: lx, cy: ly, base: base, rng: &rng, noise: noise)
            }
        }
        // Fine tissue texture: correlated noise, only where there is tissue.
        // Patient-to-patient variation of overall intensity (size, positioning).
        let scale = rng.uniform(0.9, 1.1)
        for i in 0..<n { image[i] *= scale }
        fillNoise(noise, count: n, rng: &rng)
        smooth121(noise)
        let texture = rng.uniform(0.015, 0.03) / 0.375
        for i in 0..<n {
            let tissue = min(image[i] * 5, 1)
            image[i] += texture * tissue * noise[i]
        }
    }

    /// The intensity at the pixel nearest `(x, y)`.
    private static func local(_ image: UnsafeMutablePointer<Float>, _ x: Float, _ y: Float) -> Float {
        let ix = min(max(Int(x), 0), side - 1), iy = min(max(Int(y), 0), side - 1)
        return image[iy * side + ix]
    }

    /// A uniform point inside an axis-aligned ellipse.
    private static func pointInside(cx: Float, cy: Float, a: Float, b: Float, rng: inout SeededRandom) -> (Float, Float) {
        while true {
            let u = rng.uniform(-1, 1), v = rng.uniform(-1, 1)
            if u * u + v * v <= 1 { return (cx + u * a, cy + v * b) }
        }
    }

    /// Replaces the ellipse's pixels with `level`, blending over an edge `edge` pixels wide.
    private static func paintEllipse(_ image: UnsafeMutablePointer<Float>, cx: Float, cy: Float, a: Float, b: Float, angle: Float,
                                     level: Float, edge: Float) {
        let cosA = cosf(angle), sinA = sinf(angle), invA = 1 / a, invB = 1 / b
        let mean = (a + b) / 2, reach = max(a, b) + edge
        let x0 = max(0, Int(cx - reach)), x1 = min(side - 1, Int(cx + reach) + 1)
        let y0 = max(0, Int(cy - reach)), y1 = min(side - 1, Int(cy + reach) + 1)
        guard x0 <= x1 && y0 <= y1 else { return }
        for y in y0...y1 {
            let dy = Float(y) + 0.5 - cy
            for x in x0...x1 {
                let dx = Float(x) + 0.5 - cx
                let u = (dx * cosA + dy * sinA) * invA, v = (-dx * sinA + dy * cosA) * invB
                let distance = ((u * u + v * v).squareRoot() - 1) * mean
                let cover = min(max(0.5 - distance / edge, 0), 1)
                if cover > 0 { image[y * side + x] += (level - image[y * side + x]) * cover }
            }
        }
    }

    /// A malignant-looking lesion: radius `r0 · (1 + Σ harmonics)` plus spicules; intensity
    /// heterogeneous (`noise` holds standard normals), sometimes with a necrotic core.
    private static func paintIrregular(_ image: UnsafeMutablePointer<Float>, cx: Float, cy: Float, base: Float,
                                       rng: inout SeededRandom, noise: UnsafeMutablePointer<Float>) {
        let r0 = rng.uniform(2.3, 4.8)
        var amp = [Float](repeating: 0, count: 5), phase = amp
        for k in 0..<5 {
            amp[k] = rng.uniform(0.12, 0.45) / Float(k + 2).squareRoot()
            phase[k] = rng.uniform(0, 2 * .pi)
        }
        let spicules = 1 + rng.int(below: 4)
        var spAngle = [Float](), spLength = [Float](), spWidth = [Float]()
        for _ in 0..<spicules {
            spAngle.append(rng.uniform(-.pi, .pi)); spLength.append(rng.uniform(0.6, 1.2) * r0); spWidth.append(rng.uniform(0.12, 0.25))
        }
        let contrast = rng.uniform(0.15, 0.40)
        let heterogeneity = rng.uniform(0.10, 0.35)
        let necrosis: Float = rng.uniform() < 0.35 ? rng.uniform(0.3, 0.6) : 0
        let edge = rng.uniform(0.6, 1.2)
        let reach = r0 * (1 + amp.reduce(0, +)) + (spLength.max() ?? 0) + edge + 1
        let x0 = max(0, Int(cx - reach)), x1 = min(side - 1, Int(cx + reach) + 1)
        let y0 = max(0, Int(cy - reach)), y1 = min(side - 1, Int(cy + reach) + 1)
        guard x0 <= x1 && y0 <= y1 else { return }
        for y in y0...y1 {
            let dy = Float(y) + 0.5 - cy
            for x in x0...x1 {
                let dx = Float(x) + 0.5 - cx
                let rho = (dx * dx + dy * dy).squareRoot()
                let theta = atan2f(dy, dx)
                var m: Float = 1
                for k in 0..<5 { m += amp[k] * cosf(Float(k + 2) * theta + phase[k]) }
                var radius = r0 * max(m, 0.35)
                for j in 0..<spicules {
                    var d = abs(theta - spAngle[j])
                    if d > .pi { d = 2 * .pi - d }
                    radius += spLength[j] * max(0, 1 - d / spWidth[j])
                }
                let cover = min(max(0.5 - (rho - radius) / edge, 0), 1)
                guard cover > 0 else { continue }
                var level = base + contrast * (1 + heterogeneity * noise[y * side + x])
                if necrosis > 0 && rho < 0.45 * r0 { level -= necrosis * contrast }
                image[y * side + x] += (level - image[y * side + x]) * cover
            }
        }
    }

    private static func fillNoise(_ noise: UnsafeMutablePointer<Float>, count: Int, rng: inout SeededRandom) {
        for i in 0..<count { noise[i] = rng.normal() }
    }

    /// Smooths with the separable kernel [1, 2, 1]/4 (edges clamped), in place.
    private static func smooth121(_ p: UnsafeMutablePointer<Float>) {
        let s = side
        for y in 0..<s {
            var prev = p[y * s]
            for x in 0..<s {
                let cur = p[y * s + x], next = p[y * s + min(x + 1, s - 1)]
                p[y * s + x] = 0.25 * prev + 0.5 * cur + 0.25 * next
                prev = cur
            }
        }
        for x in 0..<s {
            var prev = p[x]
            for y in 0..<s {
                let cur = p[y * s + x], next = p[min(y + 1, s - 1) * s + x]
                p[y * s + x] = 0.25 * prev + 0.5 * cur + 0.25 * next
                prev = cur
            }
        }
    }
}
