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
}
