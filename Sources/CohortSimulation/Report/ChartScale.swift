/// A mapping from data values to a position along a chart axis, with the tick values to label.
public protocol ChartScale: Sendable {
    /// The values to draw ticks and labels at, in increasing order, all inside the scale's domain.
    var ticks: [Double] { get }
    /// Where `value` falls along the axis: 0 at the low end of the domain, 1 at the high end.
    /// Values outside the domain extrapolate (below 0, above 1).
    func fraction(_ value: Double) -> Double
}
