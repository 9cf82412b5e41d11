/// The rules that turn a column's statistics into its fit, shared by fitting on rows and on
/// merged site statistics so both give the same preprocessing.
extension FittedPreprocessing.Column {
    /// The scale a standardised column divides by: its standard deviation, or 1 when that is
    /// (nearly) zero or not a normal float.
    static func scale(standardDeviation std: Double) -> Float {
        std > 1e-12 && Float(std).isNormal ? Float(std) : 1
    }

    /// A numeric column's statistics, centre and scale (when standardised) and fill by policy.
    mutating func fitNumeric(_ feature: FeatureColumn, mean: Double, std: Double, median: Double, mode: Float?) {
        self.mean = mean
        self.std = std
        self.median = median
        if feature.standardize ?? true {
            center = Float(mean)
            scale = Self.scale(standardDeviation: std)
        }
        switch feature.policy {
        case .mean: fill = Float(mean)
        case .median: fill = Float(median)
        case .mostFrequent: fill = mode
        case .constant: fill = feature.fill.flatMap(ClassMatcher.number).map(Float.init)
        default: break
        }
    }

    /// A categorical or binary column's category counts and fill by policy (the most frequent
    /// category, ties to the earlier one).
    mutating func fitCategorical(_ feature: FeatureColumn, counts: [Int]) {
        categoryCounts = counts
        switch feature.policy {
        case .mostFrequent:
            let best = counts.indices.max { counts[$0] < counts[$1] || (counts[$0] == counts[$1] && $0 > $1) } ?? 0
            fill = Float(best)
        case .constant: fill = feature.fill.flatMap { ClassMatcher(feature.values).index(of: $0) }.map(Float.init)
        default: break
        }
    }
}
