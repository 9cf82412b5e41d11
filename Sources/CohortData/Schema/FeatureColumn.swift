import Foundation

/// One feature column of a `DatasetSchema`.
public struct FeatureColumn: Codable, Equatable, Sendable {
    /// How a column's cells are read and encoded.
    public enum Kind: String, Codable, Sendable {
        /// A number; standardised with the fitted mean and standard deviation unless `standardize` is false.
        case numeric
        /// One of `categories`; encoded one-hot (one value per category).
        case categorical
        /// One of two `categories` (default `0`, `1`); encoded as 0 or 1.
        case binary
    }

    /// What to do with a missing cell.
    public enum MissingPolicy: String, Codable, Sendable, CaseIterable {
        /// A missing cell is an error (the default).
        case error
        /// Replace with the fitted mean (numeric only).
        case mean
        /// Replace with the fitted median (numeric only).
        case median
        /// Replace with the fitted most frequent value.
        case mostFrequent = "most-frequent"
        /// Replace with `fill`.
        case constant
        /// Leave the row out.
        case dropRow = "drop-row"
    }

    /// Informational counts written by `cohort schema infer`; ignored when reading data.
    public struct Found: Codable, Equatable, Sendable {
        public var missing: Int
        public var distinct: Int
        public init(missing: Int, distinct: Int) {
            self.missing = missing
            self.distinct = distinct
        }
    }

    /// The column's name in the file.
    public var name: String
    /// How the column is read.
    public var type: Kind
    /// Categorical: the categories, in encoding order. Binary: the two values read as 0 and 1
    /// (nil means `["0", "1"]`). When every value is a number, cells are compared as numbers.
    public var categories: [String]?
    /// What to do with a missing cell (nil means `error`).
    public var missingPolicy: MissingPolicy?
    /// The value used by the `constant` policy, written as it would appear in the file.
    public var fill: String?
    /// Add a 0/1 feature that is 1 where this column was missing (after imputation).
    public var indicator: Bool?
    /// Numeric: subtract the fitted mean and divide by the fitted standard deviation (nil means true).
    public var standardize: Bool?
    /// Informational, from `cohort schema infer`.
    public var found: Found?
    /// What a cell that is not one of `categories` becomes (categorical only; nil means `error`).
    public var unknown: UnknownPolicy?
    /// Learned categories only: a value seen fewer times than this in all sites' training rows
    /// is left out of the list (and is then an unknown value). Nil means 1.
    public var minCount: Int?
    /// Learned categories only: the most distinct values a site may hold in this column (nil
    /// means `CategoryDictionary.defaultMaxCategories`); more is an error naming the column.
    public var maxCategories: Int?
    /// True in a fitted schema when `categories` were learned from the data (a statistics round
    /// or a local fit) rather than listed; `unlearned` turns such a column back into the
    /// schema it came from.
    public var learned: Bool?

    /// What a categorical cell that is not one of the categories becomes.
    public enum UnknownPolicy: String, Codable, Sendable {
        /// A problem naming the row and column (the default).
        case error
        /// Encoded as all zeros (no category is 1), counted as a value, not as missing.
        case ignore
    }

    private enum CodingKeys: String, CodingKey {
        case name, type, categories, missingPolicy = "missing", fill, indicator, standardize, found, unknown, minCount, maxCategories, learned
    }

    /// A column with the given settings.
    public init(name: String, type: Kind, categories: [String]? = nil, missingPolicy: MissingPolicy? = nil, fill: String? = nil,
                indicator: Bool? = nil, standardize: Bool? = nil, found: Found? = nil) {
        self.name = name
        self.type = type
        self.categories = categories
        self.missingPolicy = missingPolicy
        self.fill = fill
        self.indicator = indicator
        self.standardize = standardize
        self.found = found
    }

    /// The policy in force.
    public var policy: MissingPolicy { missingPolicy ?? .error }

    /// Whether this column's categories are still to be learned: categorical with no
    /// `categories` (protocols/dataset-schema.md, "Categories learned in federation").
    public var learnsCategories: Bool { type == .categorical && categories == nil }

    /// Whether a cell not among the categories is encoded as all zeros rather than a problem.
    public var ignoresUnknown: Bool { type == .categorical && unknown == .ignore }

    /// The most distinct values a site may hold in this learned column.
    public var categoryCap: Int { maxCategories ?? CategoryDictionary.defaultMaxCategories }

    /// Whether an indicator feature is added.
    public var hasIndicator: Bool { indicator ?? false }

    /// The categories in force (binary defaults to `0`, `1`; numeric has none).
    public var values: [String] {
        switch type {
        case .numeric: return []
        case .binary: return categories ?? ["0", "1"]
        case .categorical: return categories ?? []
        }
    }

    /// Encoded values this column contributes.
    public var encodedWidth: Int {
        (type == .categorical ? values.count : 1) + (hasIndicator ? 1 : 0)
    }

    /// Names of the encoded values.
    public var encodedNames: [String] {
        var names = type == .categorical ? values.map { "\(name)=\($0)" } : [name]
        if hasIndicator { names.append("\(name):missing") }
        return names
    }

    /// Problems with this column's definition (empty when it is valid).
    func problems(markers: Set<String>) -> [String] {
        var out: [String] = []
        let label = "feature '\(DatasetSchema.short(name))'"
        switch type {
        case .numeric:
            if categories != nil { out.append("\(label): a numeric column has no categories") }
        case .binary:
            if values.count != 2 { out.append("\(label): a binary column has exactly 2 values, got \(values.count)") }
        case .categorical:
            if categories != nil && values.isEmpty { out.append("\(label): no categories (leave 'categories' out to learn them)") }
            if learned == true && categories == nil { out.append("\(label): 'learned' marks a fitted list of categories, and there is none") }
        }
        if unknown != nil && type != .categorical { out.append("\(label): 'unknown' applies to categorical columns only") }
        let learns = learnsCategories || learned == true
        if let m = minCount {
            if !learns { out.append("\(label): 'minCount' applies to learned categories only (a categorical column without 'categories')") }
            else if m < 1 { out.append("\(label): minCount \(m) is below 1") }
        }
        if let m = maxCategories {
            if !learns { out.append("\(label): 'maxCategories' applies to learned categories only (a categorical column without 'categories')") }
            else if m < 1 || m > DatasetSchema.Limits().categories { out.append("\(label): maxCategories \(m) is outside 1...\(DatasetSchema.Limits().categories)") }
        }
        if learnsCategories {
            // Nothing is known to check a fill against before the categories are learned.
            if policy == .constant { out.append("\(label): the 'constant' policy needs listed categories (learned ones are not known in advance)") }
            if policy == .mean || policy == .median { out.append("\(label): '\(policy.rawValue)' needs a numeric column") }
            if standardize != nil { out.append("\(label): 'standardize' applies to numeric columns only") }
            if fill != nil && policy != .constant { out.append("\(label): 'fill' is only used by the 'constant' policy") }
            return out
        }
        if type != .numeric {
            let numeric = ClassMatcher.allNumeric(values)
            if let dup = DatasetSchema.firstDuplicate(values.map { ClassMatcher.canonical($0, numeric: numeric) }) {
                out.append("\(label): category '\(dup)' is listed more than once")
            }
            if let bad = values.first(where: { markers.contains($0.trimmedSpaces) }) {
                out.append("\(label): category '\(bad)' is also a missing marker")
            }
            if policy == .mean || policy == .median { out.append("\(label): '\(policy.rawValue)' needs a numeric column") }
        }
        if type != .numeric && standardize != nil { out.append("\(label): 'standardize' applies to numeric columns only") }
        switch (policy, fill) {
        case (.constant, nil): out.append("\(label): the 'constant' policy needs 'fill'")
        case (.constant, let f?):
            if type == .numeric {
                if ClassMatcher.number(f) == nil { out.append("\(label): fill '\(f)' is not a finite number") }
            } else if ClassMatcher(values).index(of: f) == nil {
                out.append("\(label): fill '\(f)' is not one of [\(values.joined(separator: ", "))]")
            }
        case (_, _?): out.append("\(label): 'fill' is only used by the 'constant' policy")
        default: break
        }
        return out
    }
}
