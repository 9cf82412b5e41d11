/// How regression targets were standardised: `stored = (original − center) / scale`, one
/// centre and scale per target. Errors are reported in the original units.
public struct TargetScaling: Sendable, Equatable, Codable {
    /// Subtracted from each target (its fitted mean).
    public var center: [Float]
    /// Divides each target after centring (its fitted standard deviation, or 1).
    public var scale: [Float]

    /// A scaling with one centre and scale per target.
    public init(center: [Float], scale: [Float]) {
        self.center = center
        self.scale = scale
    }

    /// `value` (standardised, target `k`) in the original units.
    @inlinable public func original(_ value: Float, target k: Int) -> Float { value * scale[k] + center[k] }
}
