import CohortTensor

/// Error feedback: what compression left out in earlier rounds, per tensor name, kept by the
/// node across rounds and added to the next round's delta before it is encoded.
///
/// Each round, for each tensor, the encoder sends `compress(delta + residual)` and keeps
/// `residual ← (delta + residual) − sent`, where `sent` is exactly what the receiver decodes
/// (after sparsification and quantisation). So the sum of everything sent equals the sum of
/// the true deltas minus the current residual: nothing is lost, only delayed.
///
/// Residuals of tensors absent from a round's delta are kept unchanged.
public struct ErrorFeedback: Sendable {
    var residuals: [String: Tensor] = [:]

    /// Empty state (all residuals zero).
    public init() {}

    /// The names that have a residual.
    public var names: [String] { residuals.keys.sorted() }

    /// The residual of one tensor, if it has one.
    public func residual(for name: String) -> Tensor? { residuals[name] }

    /// The largest residual magnitude over all tensors (0 when empty).
    public var maxMagnitude: Float {
        var m: Float = 0
        for t in residuals.values { for v in t.data { m = max(m, abs(v)) } }
        return m
    }

    /// The Euclidean norm over all residuals, accumulated in double precision.
    public var l2Norm: Double {
        var sum = 0.0
        for t in residuals.values { for v in t.data { sum += Double(v) * Double(v) } }
        return sum.squareRoot()
    }

    /// Forgets every residual (e.g. when the model's shapes change).
    public mutating func reset() { residuals.removeAll() }
}
