import CohortCheckpoint
import CohortTensor

/// A running sample-weighted sum of deltas: each update is folded in as it arrives and can then
/// be dropped, so memory stays one model-sized accumulator whatever the number of nodes.
final class WeightedDeltaSum {
    private(set) var sums: [String: [Float]] = [:]
    private(set) var totalWeight: Double = 0
    private(set) var count = 0

    func reset() { sums = [:]; totalWeight = 0; count = 0 }

    /// Adds `weight · delta` (SIMD axpy, large tensors split across the worker pool). The
    /// caller has validated the update (`validate`), so the sum is never poisoned.
    func add(_ delta: ModelDelta, weight: Double) {
        for name in delta.names {
            let t = delta[name]!
            if sums[name] == nil { sums[name] = [Float](repeating: 0, count: t.count) }
            let w = Float(weight), n = t.count
            t.data.withUnsafeBufferPointer { src in
                sums[name]!.withUnsafeMutableBufferPointer { dst in
                    let s = SendablePointer(src.baseAddress!), d = SendableMutablePointer(dst.baseAddress!)
                    let tasks = n >= 1 << 16 ? WorkerPool.shared.width : 1
                    WorkerPool.shared.run(tasks: tasks) { k in
                        let lo = n * k / tasks, hi = n * (k + 1) / tasks
                        VectorKernels.axpy(count: hi - lo, alpha: w, x: s.p + lo, y: d.p + lo)
                    }
                }
            }
        }
        totalWeight += weight
        count += 1
    }

    /// The weighted mean delta per tensor (names never updated are absent).
    func mean() -> [String: Tensor] {
        guard totalWeight > 0 else { return [:] }
        let inv = Float(1 / totalWeight)
        return sums.mapValues { sum in Tensor(shape: [sum.count], data: sum.map { $0 * inv }) }
    }

    /// `global + mean delta`, computed in one pass per tensor into the accumulator's own storage
    /// (no extra model-sized allocation); other tensors unchanged. The sum buffers are consumed;
    /// the counts stay until `reset`.
    func applyMean(to global: [String: Tensor]) -> [String: Tensor] {
        guard totalWeight > 0 else { return global }
        let inv = Float(1 / totalWeight)
        var next = global
        for name in Array(sums.keys) {
            let g = global[name]!
            var buffer = sums.removeValue(forKey: name)!
            g.data.withUnsafeBufferPointer { gp in
                buffer.withUnsafeMutableBufferPointer { bp in
                    for i in 0..<bp.count { bp[i] = gp[i].addingProduct(bp[i], inv) }
                }
            }
            next[name] = Tensor(shape: g.shape, data: buffer)
        }
        return next
    }
}
