import Foundation

/// A linear scale whose domain starts and ends on "nice" ticks (multiples of 1, 2 or 5 × 10ⁿ).
public struct LinearScale: ChartScale, Equatable {
    /// Low end of the domain (the first tick).
    public let lower: Double
    /// High end of the domain (the last tick).
    public let upper: Double
    /// Distance between ticks.
    public let step: Double
    /// The tick values, from `lower` to `upper` in steps of `step`, computed as integer
    /// multiples so 0.6 prints as 0.6, not 0.6000000000000001.
    public let ticks: [Double]

    /// The smallest nice domain covering `low...high` with a step near `(high - low) / (targetTicks - 1)`.
    ///
    /// A degenerate range (`low == high`) is widened by one unit either side (or to 0...1 when
    /// it is 0); with `integerSteps` the step is at least 1 (for round numbers). Non-finite
    /// bounds give 0...1.
    public init(covering low: Double, _ high: Double, targetTicks: Int = 6, integerSteps: Bool = false) {
        var lo = min(low, high), hi = max(low, high)
        if !lo.isFinite || !hi.isFinite { lo = 0; hi = 1 }
        if lo == hi {
            if lo == 0 { hi = 1 } else { lo -= 1; hi += 1 }
        }
        var (mantissa, exponent) = LinearScale.niceStep((hi - lo) / Double(max(targetTicks - 1, 1)))
        if integerSteps && exponent < 0 { (mantissa, exponent) = (1, 0) }
        let step = LinearScale.value(1, mantissa: mantissa, exponent: exponent)
        let first = Int((lo / step + 1e-9).rounded(.down))
        let last = Int((hi / step - 1e-9).rounded(.up))
        self.init(first: first, last: max(last, first + 1), mantissa: mantissa, exponent: exponent)
    }

    /// A scale over exactly `lower...upper` with ticks every `step`, starting at `lower`.
    public init(lower: Double, upper: Double, step: Double) {
        precondition(upper > lower && step > 0, "a linear scale needs upper > lower and step > 0")
        self.lower = lower
        self.upper = upper
        self.step = step
        let count = Int(((upper - lower) / step + 1e-9).rounded(.down))
        ticks = (0...count).map { lower + Double($0) * step }
    }

    private init(first: Int, last: Int, mantissa: Int, exponent: Int) {
        let values = (first...last).map { LinearScale.value($0, mantissa: mantissa, exponent: exponent) }
        ticks = values
        lower = values.first!
        upper = values.last!
        step = LinearScale.value(1, mantissa: mantissa, exponent: exponent)
    }

    /// Position of `value` along the axis: 0 at `lower`, 1 at `upper`.
    public func fraction(_ value: Double) -> Double { (value - lower) / (upper - lower) }

    /// The nice step nearest `raw` (on a log scale), as mantissa (1, 2 or 5) × 10^exponent.
    static func niceStep(_ raw: Double) -> (mantissa: Int, exponent: Int) {
        let exponent = Int(log10(raw).rounded(.down))
        let fraction = raw / pow(10, Double(exponent))
        switch fraction {
        case ..<1.5: return (1, exponent)
        case ..<3: return (2, exponent)
        case ..<7: return (5, exponent)
        default: return (1, exponent + 1)
        }
    }

    /// k × mantissa × 10^exponent, dividing by an exact power of ten for negative exponents.
    static func value(_ k: Int, mantissa: Int, exponent: Int) -> Double {
        let whole = Double(k * mantissa)
        return exponent >= 0 ? whole * pow(10, Double(exponent)) : whole / pow(10, Double(-exponent))
    }
}
