/// Fixed-point quantisation of updates for secure aggregation: floats to integers modulo 2³²,
/// chosen so that the sum of up to `maxSummands` encoded updates never wraps.
///
/// Each value is clamped to [−range, range] and mapped to the integer q = round(x · scale),
/// clamped again to [−bound, bound], where
///
///     bound = ⌊(2³¹ − 1) / maxSummands⌋,    scale = bound / range,
///
/// and stored as the two's-complement bit pattern of q in a `UInt32`. Any sum of at most
/// `maxSummands` such integers lies in [−(2³¹ − 1), 2³¹ − 1], so the sum modulo 2³² read back as
/// an `Int32` is the true integer sum, and `decode(sum:)` divides it by `scale`.
///
/// After L2 clipping to C every coordinate is within [−C, C], so `range = C` loses nothing to
/// clamping. Each encoded value is within 0.5 / scale of the input; a decoded sum of k updates is
/// within k · 0.5 / scale of the float sum, plus float32 rounding of the result
/// (`decodeErrorBound`).
public struct FixedPointEncoding: Sendable, Equatable, Codable {
    /// Values are clamped to [−range, range] before encoding.
    public let range: Float
    /// The most updates whose sum must not wrap.
    public let maxSummands: Int
    /// The largest encoded magnitude: ⌊(2³¹ − 1) / maxSummands⌋.
    public let bound: Int32
    /// Integer units per unit of value: bound / range.
    public let scale: Double

    /// An encoding for up to `maxSummands` updates with values in [−range, range].
    public init(range: Float, maxSummands: Int) throws(PrivacyError) {
        guard range > 0, range.isFinite else { throw PrivacyError("fixed-point range must be positive and finite, got \(range)") }
        guard maxSummands >= 1, maxSummands <= Int(Int32.max) else {
            throw PrivacyError("fixed-point maxSummands must be in 1…\(Int32.max), got \(maxSummands)")
        }
        self.range = range
        self.maxSummands = maxSummands
        bound = Int32(Int(Int32.max) / maxSummands)
        scale = Double(bound) / Double(range)
    }

    /// The step between adjacent representable values, 1 / scale.
    public var resolution: Double { 1 / scale }

    /// The encoded integer of one value (NaN is a caller bug: clip first, which rejects it).
    public func encode(_ x: Float) -> UInt32 {
        precondition(!x.isNaN, "fixed-point encoding of NaN")
        let clamped = Double(min(max(x, -range), range))
        let q = min(max((clamped * scale).rounded(), -Double(bound)), Double(bound))
        return UInt32(bitPattern: Int32(q))
    }

    /// Every value encoded.
    public func encode(_ values: [Float]) -> [UInt32] { values.map(encode) }

    /// The integer value of a modular sum word (its two's-complement reading).
    public func integer(_ word: UInt32) -> Int32 { Int32(bitPattern: word) }

    /// The float sum from a modular sum of at most `maxSummands` encoded updates.
    public func decode(sum: [UInt32]) -> [Float] {
        let inv = 1 / scale
        return sum.map { Float(Double(Int32(bitPattern: $0)) * inv) }
    }

    /// How much rounding can lengthen a d-dimensional vector: ‖encoded/scale − x‖₂ ≤ 0.5·√d / scale
    /// for x within the range. A DP sensitivity computed for norm C holds for the encoded vector
    /// if updates are clipped to C minus this slack.
    public func l2Slack(dimension: Int) -> Double { 0.5 * Double(dimension).squareRoot() / scale }

    /// Largest |decoded − float sum| for `summands` updates whose values all lie within the range,
    /// for a true sum of magnitude at most `magnitude`: the rounding of each summand plus the
    /// float32 rounding of the decoded value.
    public func decodeErrorBound(summands: Int, magnitude: Double) -> Double {
        Double(summands) * 0.5 / scale + magnitude * 0x1p-24
    }
}
