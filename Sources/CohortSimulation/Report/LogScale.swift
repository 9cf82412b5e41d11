import Foundation

/// A base-10 logarithmic scale whose domain runs from one power of ten to another, ticked at
/// the decades (every second or third decade when the span is wide; at 1, 2 and 5 times each
/// decade when it spans only one or two).
public struct LogScale: ChartScale, Equatable {
    /// log10 of the low end of the domain.
    public let lowerExponent: Int
    /// log10 of the high end of the domain.
    public let upperExponent: Int
    /// The decade values labelled on the axis, e.g. 1e3, 1e4, 1e5.
    public let ticks: [Double]

    /// The smallest decade-aligned domain covering `low...high` (both must be positive; a
    /// non-positive or non-finite bound falls back to 1). At most `maxTicks` decades are ticked.
    public init(covering low: Double, _ high: Double, maxTicks: Int = 8) {
        let lo = low > 0 && low.isFinite ? low : 1
        let hi = high > 0 && high.isFinite ? max(high, lo) : lo
        var lowerExponent = Int(log10(lo).rounded(.down))
        var upperExponent = Int(log10(hi).rounded(.up))
        // A bound that is itself a decade can land one off through log10 rounding.
        if LogScale.decade(lowerExponent + 1) <= lo { lowerExponent += 1 }
        if upperExponent > lowerExponent, LogScale.decade(upperExponent - 1) >= hi { upperExponent -= 1 }
        if upperExponent == lowerExponent { upperExponent += 1 }
        // Wide spans tick every `stride` decades; the domain is stretched so both ends are ticked.
        let span = upperExponent - lowerExponent
        let stride = max(1, (span + max(maxTicks, 2) - 2) / (max(maxTicks, 2) - 1))
        upperExponent = lowerExponent + (span + stride - 1) / stride * stride
        self.lowerExponent = lowerExponent
        self.upperExponent = upperExponent
        if span <= 2 {
            // One or two decades: 1, 2 and 5 times each power of ten, so the axis has enough labels.
            ticks = (lowerExponent..<upperExponent).flatMap { e in [1, 2, 5].map { Double("\($0)e\(e)")! } }
                + [LogScale.decade(upperExponent)]
        } else {
            ticks = Swift.stride(from: lowerExponent, through: upperExponent, by: stride).map(LogScale.decade)
        }
    }

    /// Low end of the domain.
    public var lower: Double { LogScale.decade(lowerExponent) }
    /// High end of the domain.
    public var upper: Double { LogScale.decade(upperExponent) }

    /// Position of `value` along the axis: 0 at `lower`, 1 at `upper`; non-positive values map to 0.
    public func fraction(_ value: Double) -> Double {
        guard value > 0 else { return 0 }
        return (log10(value) - Double(lowerExponent)) / Double(upperExponent - lowerExponent)
    }

    /// 10^exponent, exactly as the decimal literal would parse.
    static func decade(_ exponent: Int) -> Double { Double("1e\(exponent)")! }
}
