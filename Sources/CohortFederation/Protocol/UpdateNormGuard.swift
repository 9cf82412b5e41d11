import CohortTensor

/// The coordinator's default norm guard (protocols/wire.md, "Update screening"): for a plan
/// that names no `screening` and has neither privacy (DP clips itself) nor secure aggregation,
/// every update's L2 norm (over all its tensors) is held, while it streams in, to
///
///     bound = min(absoluteMultiple × max(1, ‖global model‖), relativeMultiple × reference)
///
/// where the reference is the median norm of the updates folded whole in the last journaled
/// round that folded any (`RoundRecord.normGuard.median`; the first round has only the absolute
/// term). An update over it is rejected (`OrderedFold`): one waiting whole is left out; one
/// being folded as it arrives (a committing node) is cut off before the record or piece that
/// would cross it, and what was folded stays, within the bound. Sample weights are not capped
/// (the secrets file's expected counts cap claims). `"screening": {}` turns it off; a plan that
/// names bounds gets `ScreenedAggregation` instead.
///
/// The multiples are loose on purpose: measured on honest runs (protocols/plan.md, "Default
/// norm guard"), no honest update of the test suite, the default `cohort simulate` or the clean
/// runs of `cohort simulate --byzantine 1` comes near the bound.
public enum UpdateNormGuard {
    /// The absolute term: this multiple of max(1, ‖global model‖).
    public static let absoluteMultiple = 10.0
    /// The relative term: this multiple of the previous round's median update norm.
    public static let relativeMultiple = 50.0

    /// This round's bound and its two terms.
    public struct Bound: Equatable, Sendable {
        public var value: Double
        public var absolute: Double
        public var relative: Double?

        public init(value: Double, absolute: Double, relative: Double?) {
            self.value = value; self.absolute = absolute; self.relative = relative
        }
    }

    /// The bound for a round whose global model has L2 norm `globalNorm` and whose reference
    /// median update norm is `reference` (nil: none yet).
    public static func bound(globalNorm: Double, reference: Double?) -> Bound {
        let absolute = absoluteMultiple * max(1, globalNorm.isFinite ? globalNorm : 1)
        let relative = reference.flatMap { $0 > 0 && $0.isFinite ? relativeMultiple * $0 : nil }
        return Bound(value: min(absolute, relative ?? absolute), absolute: absolute, relative: relative)
    }

    /// The reference for the round after `records`: the median of the last one that has it.
    public static func reference(after records: [Coordinator.RoundRecord]) -> Double? {
        records.reversed().lazy.compactMap { $0.normGuard?.median }.first
    }

    /// The L2 norm of `tensors` (float32 squares summed in blocks of 1,024, double across).
    public static func norm(_ tensors: [(name: String, value: Tensor)]) -> Double {
        var total = 0.0
        for (_, t) in tensors {
            t.data.withUnsafeBufferPointer { b in
                guard let p = b.baseAddress else { return }
                var lo = 0
                while lo < b.count {
                    let hi = min(lo + 1024, b.count)
                    var s = SIMD8<Float>(repeating: 0)
                    var i = lo
                    while i + 8 <= hi {
                        let x = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
                        s = s.addingProduct(x, x)
                        i += 8
                    }
                    var block = Double(s.sum())
                    if !block.isFinite {   // float32 squares past Float's range: this block in double
                        block = 0
                        i = lo
                    }
                    while i < hi { block += Double(p[i]) * Double(p[i]); i += 1 }
                    total += block
                    lo = hi
                }
            }
        }
        return total.squareRoot()
    }

    /// The median of a non-empty list (the mean of the middle two for an even count); nil when empty.
    static func median(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : ScreenedAggregation.median(values)
    }
}

/// What the default norm guard did in a round (`RoundRecord.normGuard`).
public struct NormGuardRecord: Codable, Equatable, Sendable {
    /// The bound the round's updates were held to: the smaller of `absolute` and `relative`.
    public var bound: Double
    /// `UpdateNormGuard.absoluteMultiple` × max(1, ‖global model‖) at the round's start.
    public var absolute: Double
    /// `UpdateNormGuard.relativeMultiple` × the previous rounds' reference median (absent in the first round).
    public var relative: Double?
    /// The L2 norm of every update folded whole, by node.
    public var norms: [String: Double]
    /// The median of `norms`: the next round's reference (absent when no update was folded whole).
    public var median: Double?

    public init(bound: Double, absolute: Double, relative: Double?, norms: [String: Double], median: Double?) {
        self.bound = bound; self.absolute = absolute; self.relative = relative; self.norms = norms; self.median = median
    }
}
