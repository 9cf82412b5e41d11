/// A site's statistics (federated statistics round) that cannot be used: what is wrong and
/// where. Cases, not text, tell the problems apart.
public enum StatisticsError: Error, Equatable, CustomStringConvertible {
    /// The message is larger than the budget worked out from the schema (checked before decoding).
    case tooLarge(bytes: Int, limit: Int)
    /// The message is not the expected JSON.
    case malformed(String)
    /// The site reads its data with another schema.
    case schemaMismatch(String)
    /// One entry per schema feature was expected.
    case featureCount(got: Int, expected: Int)
    /// Entry `index` names another feature than the schema's.
    case featureName(index: Int, got: String, expected: String)
    /// A row or cell count is negative or beyond `limit`.
    case absurdCount(feature: String, field: String, value: Int, limit: Int)
    /// Counts that must agree do not (e.g. values + missing ≠ rows).
    case inconsistentCounts(feature: String, detail: String)
    /// A sum is NaN or infinite.
    case notFinite(feature: String, field: String)
    /// A field a column of this type has is absent, or one it does not have is present.
    case wrongFields(feature: String, detail: String)
    /// The category counts do not have one entry per category.
    case categoryCount(feature: String, got: Int, expected: Int)
    /// The quantile sketch is malformed.
    case sketch(feature: String, detail: String)
    /// A column whose missing policy needs a statistic has no value at any site.
    case noValues(feature: String, policy: String, rows: Int)
    /// A numeric column's fill needs the quantile sketch (median, most frequent), and the
    /// statistics are additive only (secure aggregation masks sums, not sketches).
    case needsSketch(feature: String, policy: String)

    public var description: String {
        switch self {
        case .tooLarge(let b, let l): return "statistics message of \(b) bytes, more than the \(l) its schema allows"
        case .malformed(let d): return "statistics message is not valid: \(d)"
        case .schemaMismatch(let d): return "statistics for another schema: \(d)"
        case .featureCount(let g, let e): return "statistics for \(g) features, the schema has \(e)"
        case .featureName(let i, let g, let e): return "statistics entry \(i) is for '\(g)', the schema's feature \(i) is '\(e)'"
        case .absurdCount(let f, let field, let v, let l): return "column '\(f)': \(field) \(v) is outside 0...\(l)"
        case .inconsistentCounts(let f, let d): return "column '\(f)': \(d)"
        case .notFinite(let f, let field): return "column '\(f)': \(field) is not finite"
        case .wrongFields(let f, let d): return "column '\(f)': \(d)"
        case .categoryCount(let f, let g, let e): return "column '\(f)': \(g) category counts for \(e) categories"
        case .sketch(let f, let d): return "column '\(f)': quantile sketch: \(d)"
        case .noValues(let f, let p, let r): return "column '\(f)': no values in the \(r) training rows of all sites to fit the '\(p)' fill"
        case .needsSketch(let f, let p):
            return "column '\(f)': the '\(p)' fill needs the sites' quantile sketches, which secure aggregation cannot sum (only counts and sums are masked); use 'mean' or 'constant' for this column, or run the statistics round without secureAggregation"
        }
    }
}
