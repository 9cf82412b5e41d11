/// The fixed-point encoding of a statistics vector for secure aggregation (protocols/wire.md,
/// "Statistics round"): wider than the model rounds' `FixedPointEncoding`, because Σx² of raw
/// clinical values and row counts do not fit 32 bits.
///
/// Each value v becomes the integer q = round(v · 2³²) (32 fractional bits), held as a 128-bit
/// two's-complement number and carried as eight 16-bit limbs, one per 32-bit word, low limb
/// first. Secure aggregation sums words modulo 2³²; a limb is below 2¹⁶, so the sum of up to
/// 2¹⁶ sites' limbs never wraps, and Σᵢ limbSumᵢ · 2¹⁶ⁱ modulo 2¹²⁸, read as a signed number,
/// is the exact sum of the q's as long as it lies within ±2¹²⁷. Each site's |v| is therefore
/// held below 2⁷⁹ (|q| < 2¹¹¹, and 2¹⁶ · 2¹¹¹ = 2¹²⁷): a site whose Σx² is larger refuses with
/// the statistic named. A decoded sum of k sites is within k · 2⁻³³ of the sum of their values
/// (counts are exact), plus the rounding of the result to a Double.
struct StatisticsFixedPoint: Sendable {
    /// Fractional bits of the fixed point.
    static let fractionBits = 32
    /// 32-bit words per value.
    static let wordsPerValue = 8
    /// The most sites whose words may be summed.
    static let maxSummands = 1 << 16
    /// The largest |value| one site may encode (exclusive): 2⁷⁹.
    static let maxMagnitude = 0x1p79

    /// What cannot be encoded or decoded.
    enum Failure: Error, Equatable, CustomStringConvertible {
        /// Entry `index` is NaN, infinite, or not below 2⁷⁹ in magnitude.
        case outOfRange(index: Int, value: Double)
        /// A sum of the wrong number of words.
        case length(got: Int, expected: Int)
        /// More summands than the limbs can hold.
        case summands(Int)

        var description: String {
            switch self {
            case .outOfRange(let i, let v): return "statistic \(i) is \(v), outside the secure statistics encoding's ±2^79"
            case .length(let g, let e): return "a statistics sum of \(g) words, expected \(e)"
            case .summands(let n): return "\(n) sites, more than the \(StatisticsFixedPoint.maxSummands) the statistics encoding can sum"
            }
        }
    }

    /// Words for a vector of `values` entries.
    static func length(values: Int) -> Int { values * wordsPerValue }

    /// The words of one site's vector.
    static func encode(_ values: [Double]) throws(Failure) -> [UInt32] {
        var out = [UInt32]()
        out.reserveCapacity(length(values: values.count))
        for (i, v) in values.enumerated() {
            guard v.isFinite, abs(v) < maxMagnitude else { throw .outOfRange(index: i, value: v) }
            let q = Int128((v * 0x1p32).rounded())
            var bits = UInt128(truncatingIfNeeded: q)
            for _ in 0..<wordsPerValue {
                out.append(UInt32(truncatingIfNeeded: bits & 0xFFFF))
                bits >>= 16
            }
        }
        return out
    }

    /// The values from the modular sum of at most `maxSummands` sites' words.
    static func decode(sum words: [UInt32], values: Int) throws(Failure) -> [Double] {
        guard words.count == length(values: values) else { throw .length(got: words.count, expected: length(values: values)) }
        var out = [Double]()
        out.reserveCapacity(values)
        for i in 0..<values {
            var total: UInt128 = 0
            for k in 0..<wordsPerValue {
                total &+= UInt128(words[i * wordsPerValue + k]) &<< (16 * k)
            }
            out.append(Double(Int128(truncatingIfNeeded: total)) * 0x1p-32)
        }
        return out
    }
}
