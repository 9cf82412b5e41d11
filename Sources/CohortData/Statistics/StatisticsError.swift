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

    /// A learned categorical column keeps no category (no value at any site, or none counted
    /// at least `minCount` times).
    case noCategories(feature: String, seen: Int, minCount: Int)
    /// A learned categorical column would have more categories than a schema may list.
    case tooManyCategories(feature: String, count: Int, limit: Int)
    /// Learned categories cannot be released under `mechanism` (secure aggregation or privacy):
    /// the columns must list their categories.
    case learnedCategoriesRefused(features: [String], mechanism: String)

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
        case .noCategories(let f, let seen, let m):
            return "column '\(f)': no category to learn (\(seen) distinct value\(seen == 1 ? "" : "s") in all sites' training rows, none counted at least minCount \(m) times)"
        case .tooManyCategories(let f, let c, let l): return "column '\(f)': \(c) learned categories, more than the limit of \(l)"
        case .learnedCategoriesRefused(let fs, let m):
            let names = fs.map { "'\($0)'" }.joined(separator: ", ")
            return "the schema learns the categories of column\(fs.count == 1 ? "" : "s") \(names) in the statistics round, and under \(m) the category texts cannot be released (the masked sum adds numbers in fixed positions, and the privacy accountant does not cover the set of texts); list the categories of \(fs.count == 1 ? "that column" : "those columns") in the schema (\"categories\": [...])"
        case .needsSketch(let f, let p):
            return "column '\(f)': the '\(p)' fill needs the sites' quantile sketches, which secure aggregation cannot sum (only counts and sums are masked); use 'mean' or 'constant' for this column, or run the statistics round without secureAggregation"
        }
    }
}
