/// Small NaN-aware statistics used by the results model and the report.
enum Statistics {
    /// Mean of the finite values; NaN when there are none.
    static func finiteMean<S: Sequence>(_ values: S) -> Double where S.Element == Double {
        var sum = 0.0
        var count = 0
        for v in values where v.isFinite {
            sum += v
            count += 1
        }
        return count == 0 ? .nan : sum / Double(count)
    }
}
