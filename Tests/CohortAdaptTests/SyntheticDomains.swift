import CohortNN
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// Shifted synthetic domains shared by the adaptation tests.
enum SyntheticDomains {
    /// Three Gaussian classes in 2-D, rotated by `angle` and shifted by `offset`: a domain shift
    /// that keeps classes as compact clusters.
    static func blobs(_ n: Int, seed: UInt64, angle: Float = 0, offset: Float = 0) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        let centres: [(Float, Float)] = [(0, 2), (-1.8, -1), (1.8, -1)]
        var x: [Float] = [], y: [Int] = []
        for i in 0..<n {
            let k = i % 3
            let a = centres[k].0 + 0.6 * rng.normal(), b = centres[k].1 + 0.6 * rng.normal()
            x += [cosf(angle) * a - sinf(angle) * b + offset, sinf(angle) * a + cosf(angle) * b + offset]
            y.append(k)
        }
        return LabelledData(inputs: Tensor(shape: [n, 2], data: x), labels: y)
    }

    /// Three classes by angle sector on a ring of radius about 2, plus two noise features:
    /// a task whose learned features carry more label evidence than random ones.
    static func sectors(_ n: Int, seed: UInt64) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        var x: [Float] = [], y: [Int] = []
        for i in 0..<n {
            let k = i % 3
            let angle = (Float(k) + 0.15 + 0.7 * rng.uniform()) * 2 * Float.pi / 3, radius = 2 + 0.3 * rng.uniform()
            x += [radius * cosf(angle), radius * sinf(angle), rng.uniform() - 0.5, rng.uniform() - 0.5]
            y.append(k)
        }
        return LabelledData(inputs: Tensor(shape: [n, 4], data: x), labels: y)
    }
}
