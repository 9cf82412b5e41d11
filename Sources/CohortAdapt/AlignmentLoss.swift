import CohortNN
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// A loss between a batch of source features and a batch of target features, with the
/// gradient for each side (so both feature extractors, or one shared one, can be updated).
public struct AlignmentLossResult {
    public var value: Float
    public var sourceGradient: Tensor
    public var targetGradient: Tensor
}

/// Feature-distribution alignment losses for domain adaptation.
public enum AlignmentLoss {
    /// Deep CORAL (Sun & Saenko 2016): `‖C_s − C_t‖²_F / (4d²)`, where `C` is the unbiased
    /// covariance of a `[n, d]` feature batch. Needs at least two rows per side.
    public static func coral(source: Tensor, target: Tensor) -> AlignmentLossResult {
        precondition(source.rank == 2 && target.rank == 2 && source.shape[1] == target.shape[1],
                     "CORAL needs [n, d] features with the same d, got \(source.shape) and \(target.shape)")
        precondition(source.shape[0] > 1 && target.shape[0] > 1, "CORAL needs at least 2 samples per domain")
        let d = source.shape[1]
        let (cs, xs) = covariance(source), (ct, xt) = covariance(target)
        let diff = cs - ct
        let scale = 1 / (4 * Float(d * d))
        let value = diff.squaredNorm() * scale
        // dL/dC = 2·scale·(C_s − C_t); dL/dX = 2/(n−1)·(X − μ)·dL/dC (dL/dC is symmetric).
        let dC = diff * (2 * scale)
        var gs = Tensor.matmul(xs, dC)
        gs.scale(by: 2 / Float(source.shape[0] - 1))
        var gt = Tensor.matmul(xt, dC)
        gt.scale(by: -2 / Float(target.shape[0] - 1))
        return AlignmentLossResult(value: value, sourceGradient: gs, targetGradient: gt)
    }

    /// Unbiased covariance `[d, d]` and the centred data `[n, d]`.
    static func covariance(_ x: Tensor) -> (Tensor, Tensor) {
        let n = x.shape[0], d = x.shape[1]
        var mean = x.sumRows()
        mean.scale(by: 1 / Float(n))
        var centred = x
        for i in 0..<n { for j in 0..<d { centred.data[i * d + j] -= mean.data[j] } }
        var c = Tensor.matmul(centred, centred, transA: true)
        c.scale(by: 1 / Float(n - 1))
        return (c, centred)
    }

    /// Multi-kernel MMD² (Gretton et al. 2012; Long et al. 2015): the biased estimate
    /// `mean k(s,s') + mean k(t,t') − 2 mean k(s,t)` with `k` the sum of Gaussian kernels
    /// `exp(−‖x−y‖² / (2σ²))` over `bandwidths`. With nil bandwidths, σ² = median squared distance
    /// of the pooled batch times {1/4, 1/2, 1, 2, 4} (treated as constants in the gradient).
    public static func mmd(source: Tensor, target: Tensor, bandwidths: [Float]? = nil) -> AlignmentLossResult {
        precondition(source.rank == 2 && target.rank == 2 && source.shape[1] == target.shape[1],
                     "MMD needs [n, d] features with the same d, got \(source.shape) and \(target.shape)")
        let ns = source.shape[0], nt = target.shape[0], d = source.shape[1]
        precondition(ns > 0 && nt > 0, "MMD needs samples on both sides")
        let all = Tensor(shape: [ns + nt, d], data: source.data + target.data)
        let n = ns + nt
        var dist = [Float](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) {
                var s: Float = 0
                for k in 0..<d { let v = all.data[i * d + k] - all.data[j * d + k]; s += v * v }
                dist[i * n + j] = s; dist[j * n + i] = s
            }
        }
        let sigmas2: [Float]
        if let bandwidths { sigmas2 = bandwidths.map { $0 * $0 } } else {
            var off: [Float] = []
            for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { off.append(dist[i * n + j]) } }
            off.sort()
            let median = off.isEmpty ? 1 : max(off[off.count / 2], 1e-6)
            sigmas2 = [0.25, 0.5, 1, 2, 4].map { median * $0 }
        }
        // Weight of pair (i, j) in the estimate: +1/ns² within source, +1/nt² within target, −1/(ns·nt) across (each order).
        func weight(_ i: Int, _ j: Int) -> Float {
            let si = i < ns, sj = j < ns
            if si && sj { return 1 / Float(ns * ns) }
            if !si && !sj { return 1 / Float(nt * nt) }
            return -1 / Float(ns * nt)
        }
        var value: Float = 0
        var grad = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            for j in 0..<n where j != i {
                let w = weight(i, j)
                var k: Float = 0, dk: Float = 0   // dk: Σ k_σ/σ², for ∂k/∂x_i = −dk·(x_i − x_j)
                for s2 in sigmas2 { let e = expf(-dist[i * n + j] / (2 * s2)); k += e; dk += e / s2 }
                value += w * k
                // Pair (i, j) and (j, i) both appear: each contributes w·∂k/∂x_i to x_i.
                for c in 0..<d { grad[i * d + c] += -2 * w * dk * (all.data[i * d + c] - all.data[j * d + c]) }
            }
            value += weight(i, i) * Float(sigmas2.count)   // k(x, x) = 1 per kernel
        }
        return AlignmentLossResult(value: value, sourceGradient: Tensor(shape: source.shape, data: Array(grad[0..<(ns * d)])),
                                   targetGradient: Tensor(shape: target.shape, data: Array(grad[(ns * d)...])))
    }
}
