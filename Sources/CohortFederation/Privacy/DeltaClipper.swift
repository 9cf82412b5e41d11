import CohortCheckpoint
import CohortTensor

/// Clips an update to a global L2 norm C: every value is scaled by min(1, C / ‖Δ‖), where ‖Δ‖
/// is the norm over all tensors together (DP-FedAvg's per-node clipping, which bounds one node's
/// contribution to the sum: the sensitivity the Gaussian noise is calibrated to).
///
/// The bound is exact: the clipped update's norm, accumulated in double precision, is ≤ C. The
/// scale is taken a hair (2⁻²² relative) below C / ‖Δ‖ so that float32 rounding of the scaled
/// values cannot push the norm over C, and the result is checked.
public struct DeltaClipper: Sendable, Equatable {
    /// C, the largest L2 norm an update may have after clipping.
    public let clipNorm: Double

    /// A clipper to norm `clipNorm` (positive and finite).
    public init(clipNorm: Double) {
        precondition(clipNorm > 0 && clipNorm.isFinite, "clip norm must be positive and finite, got \(clipNorm)")
        self.clipNorm = clipNorm
    }

    /// The L2 norm of `values`, accumulated in double precision.
    public static func l2Norm(_ values: [Float]) -> Double {
        values.withUnsafeBufferPointer { sumOfSquares($0) }.squareRoot()
    }

    /// Clips `values` in place; returns the norm before clipping. Throws (and leaves `values`
    /// unchanged) when a value is NaN or infinite: such an update has no bounded norm.
    @discardableResult
    public func clip(_ values: inout [Float]) throws(PrivacyError) -> Double {
        let norm = Self.l2Norm(values)
        guard norm.isFinite else { throw PrivacyError("cannot clip an update holding NaN or infinity") }
        guard norm > clipNorm else { return norm }
        var factor = clipNorm / norm * (1 - 0x1p-22)
        let original = values
        while true {
            scale(&values, from: original, by: Float(factor))
            if Self.l2Norm(values) <= clipNorm { return norm }
            factor *= 1 - 0x1p-20  // never seen; kept so the bound holds whatever the rounding
        }
    }

    /// The delta clipped to norm C over all its tensors together, and its norm before clipping.
    public func clip(_ delta: ModelDelta) throws(PrivacyError) -> (delta: ModelDelta, norm: Double) {
        var flat: [Float] = []
        flat.reserveCapacity(delta.parameterCount)
        for name in delta.names { flat += delta[name]!.data }
        let norm = try clip(&flat)
        guard norm > clipNorm else { return (delta, norm) }
        var entries: [(name: String, value: Tensor)] = []
        var offset = 0
        for name in delta.names {
            let t = delta[name]!
            entries.append((name, Tensor(shape: t.shape, data: Array(flat[offset..<(offset + t.count)]))))
            offset += t.count
        }
        do { return (try ModelDelta(entries), norm) } catch { preconditionFailure("a delta's own names were rejected: \(error)") }
    }

    private func scale(_ values: inout [Float], from original: [Float], by s: Float) {
        values.withUnsafeMutableBufferPointer { out in
            original.withUnsafeBufferPointer { src in
                for i in 0..<out.count { out[i] = src[i] * s }
            }
        }
    }

    private static func sumOfSquares(_ v: UnsafeBufferPointer<Float>) -> Double {
        // Four double accumulators: exact enough, and not a bottleneck next to training.
        var acc = SIMD4<Double>()
        var i = 0
        let n = v.count
        while i + 4 <= n {
            let x = SIMD4<Double>(Double(v[i]), Double(v[i + 1]), Double(v[i + 2]), Double(v[i + 3]))
            acc = acc.addingProduct(x, x)
            i += 4
        }
        var sum = acc.sum()
        while i < n { sum += Double(v[i]) * Double(v[i]); i += 1 }
        return sum
    }
}
