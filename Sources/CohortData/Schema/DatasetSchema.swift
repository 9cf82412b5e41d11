import Foundation

/// What a tabular data file holds, by column name (spec: `protocols/dataset-schema.md`): the
/// feature columns and their types, the label column and its classes, which cells count as
/// missing and what to do about them. Columns are matched by name, so their order in a file
/// does not matter.
public struct DatasetSchema: Codable, Equatable, Sendable {
    /// The schema format version this build reads and writes.
    public static let currentVersion = 1

    /// Schema format version (1).
    public var version: Int
    /// The label column and its classes.
    public var label: LabelColumn
    /// Feature columns, in the order their encoded values appear in a sample.
    public var features: [FeatureColumn]
    /// Cells (compared after trimming spaces) that mean "missing"; nil means the default markers.
    public var missing: [String]?
    /// Columns present in files but not used (e.g. identifiers); nil means none.
    public var ignore: [String]?

    /// Markers used when a schema gives none.
    public static let defaultMissing = ["", "NA", "NaN", "?"]

    /// What the label column holds.
    public enum LabelTask: String, Codable, Sendable {
        /// Class names (`classes`).
        case classification
        /// A continuous target: a finite number per labelled row.
        case regression
    }

    /// The label column: its name and its classes, in class-index order, or a continuous
    /// regression target (`task: regression`, no classes).
    public struct LabelColumn: Codable, Equatable, Sendable {
        /// The column's name in the file.
        public var column: String
        /// Class names; class `i` is `classes[i]`. When every class is a number, cells are
        /// compared as numbers (`0.0` is class `0`). Empty for regression.
        public var classes: [String]
        /// Informational: labelled rows per class as found by `cohort schema infer`.
        public var found: [Int]?
        /// `regression` for a continuous target; nil (or `classification`) for classes.
        public var task: LabelTask?
        /// Regression only: standardise the target with the fitted mean and standard deviation
        /// (default true); errors are always reported in the original units.
        public var standardize: Bool?

        public init(column: String, classes: [String], found: [Int]? = nil) {
            self.column = column
            self.classes = classes
            self.found = found
        }

        /// A continuous regression target in `column`.
        public static func regression(column: String, standardize: Bool? = nil) -> LabelColumn {
            var l = LabelColumn(column: column, classes: [])
            l.task = .regression
            l.standardize = standardize
            return l
        }

        /// Whether the label is a continuous target.
        public var isRegression: Bool { task == .regression }

        private enum CodingKeys: String, CodingKey { case column, classes, found, task, standardize }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            column = try c.decode(String.self, forKey: .column)
            task = try c.decodeIfPresent(LabelTask.self, forKey: .task)
            // Classes are required for classification; a regression label has none.
            classes = task == .regression ? try c.decodeIfPresent([String].self, forKey: .classes) ?? [] : try c.decode([String].self, forKey: .classes)
            found = try c.decodeIfPresent([Int].self, forKey: .found)
            standardize = try c.decodeIfPresent(Bool.self, forKey: .standardize)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(column, forKey: .column)
            if !isRegression || !classes.isEmpty { try c.encode(classes, forKey: .classes) }
            try c.encodeIfPresent(found, forKey: .found)
            try c.encodeIfPresent(task, forKey: .task)
            try c.encodeIfPresent(standardize, forKey: .standardize)
        }
    }

    /// A schema with the given parts.
    public init(label: LabelColumn, features: [FeatureColumn], missing: [String]? = nil, ignore: [String]? = nil) {
        self.version = Self.currentVersion
        self.label = label
        self.features = features
        self.missing = missing
        self.ignore = ignore
    }

    /// The missing-value markers in force.
    public var missingMarkers: [String] { missing ?? Self.defaultMissing }

    /// Number of values an encoded sample has: one per numeric or binary feature, one per
    /// category of a categorical feature, plus one per missing indicator.
    public var encodedWidth: Int {
        features.reduce(0) { $0 + $1.encodedWidth }
    }

    /// Names of the encoded values, e.g. `age`, `island=Dream`, `age:missing`.
    public var encodedNames: [String] {
        features.flatMap(\.encodedNames)
    }

    /// Bounds checked by `validate` before anything is built from a schema.
    public struct Limits: Sendable {
        public var features = 1_000_000
        public var classes = 100_000
        public var categories = 100_000
        public var encodedWidth = 10_000_000
        public var nameBytes = 1024
        public var markers = 256
        public init() {}
    }

    /// Checks the schema itself: version, sizes against `limits`, non-empty and unique names
    /// (features, label, ignored columns), unique classes and categories, binary columns with
    /// two values, constant fills that are valid values of their column. Every problem is
    /// listed in one error.
    public func validate(source: String = "schema", limits: Limits = Limits()) throws {
        var problems: [String] = []
        guard version == Self.currentVersion else {
            throw DataError("\(source): schema version \(version) is not supported (this build reads version \(Self.currentVersion))")
        }
        // Size checks first: nothing below walks a list before it is known to be bounded.
        if features.count > limits.features { problems.append("\(features.count) features, more than the limit of \(limits.features)") }
        if label.classes.count > limits.classes { problems.append("\(label.classes.count) classes, more than the limit of \(limits.classes)") }
        if missingMarkers.count > limits.markers { problems.append("\(missingMarkers.count) missing markers, more than the limit of \(limits.markers)") }
        if (ignore?.count ?? 0) > limits.features { problems.append("\(ignore!.count) ignored columns, more than the limit of \(limits.features)") }
        for f in features where (f.categories?.count ?? 0) > limits.categories {
            problems.append("feature '\(Self.short(f.name))': \(f.categories!.count) categories, more than the limit of \(limits.categories)")
        }
        guard problems.isEmpty else { throw DataError("\(source): " + problems.joined(separator: "; ")) }
        let width = encodedWidth
        if width > limits.encodedWidth { problems.append("encoded samples would have \(width) values, more than the limit of \(limits.encodedWidth)") }
        if features.isEmpty { problems.append("no features") }

        var seen = Set<String>()
        func name(_ n: String, _ what: String) {
            if n.isEmpty { problems.append("\(what) has an empty name") }
            else if n.utf8.count > limits.nameBytes { problems.append("\(what) name '\(Self.short(n))' is longer than \(limits.nameBytes) bytes") }
            else if !seen.insert(n).inserted { problems.append("column '\(n)' is named more than once (\(what))") }
        }
        name(label.column, "label column")
        for f in features { name(f.name, "feature") }
        for n in ignore ?? [] { name(n, "ignored column") }

        if label.isRegression {
            if !label.classes.isEmpty { problems.append("label '\(label.column)': a regression target has no classes (drop 'classes' or 'task')") }
            if label.found != nil { problems.append("label '\(label.column)': 'found' counts classes; a regression target has none") }
        } else {
            if label.classes.isEmpty { problems.append("label '\(label.column)': no classes") }
            if label.standardize != nil { problems.append("label '\(label.column)': 'standardize' applies to a regression target only") }
        }
        if let dup = Self.firstDuplicate(label.classes.map { ClassMatcher.canonical($0, numeric: ClassMatcher.allNumeric(label.classes)) }) {
            problems.append("label '\(label.column)': class '\(dup)' is listed more than once")
        }
        if !label.isRegression, let found = label.found, found.count != label.classes.count {
            problems.append("label '\(label.column)': 'found' has \(found.count) counts for \(label.classes.count) classes")
        }
        let markers = Set(missingMarkers.map { $0.trimmedSpaces })
        if let bad = label.classes.first(where: { markers.contains($0.trimmedSpaces) }) {
            problems.append("label '\(label.column)': class '\(bad)' is also a missing marker")
        }
        for f in features { problems += f.problems(markers: markers) }
        guard problems.isEmpty else { throw DataError("\(source): " + problems.joined(separator: "; ")) }
    }

    /// Reads and validates a schema file (at most 64 MiB).
    public static func load(path: String, limits: Limits = Limits()) throws -> DatasetSchema {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > 64 << 20 { throw DataError("\(path): \(size) bytes is too large for a schema (limit 64 MiB)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot read schema file") }
        return try decode(data, source: path, limits: limits)
    }

    /// Decodes and validates schema JSON.
    public static func decode(_ data: Data, source: String, limits: Limits = Limits()) throws -> DatasetSchema {
        let schema: DatasetSchema
        do { schema = try JSONDecoder().decode(DatasetSchema.self, from: data) } catch let error as DecodingError {
            throw DataError("\(source): not a dataset schema: \(describe(error))")
        } catch {
            throw DataError("\(source): not JSON: \(error)")
        }
        try schema.validate(source: source, limits: limits)
        return schema
    }

    /// The schema without the informational `found` counts (for comparing two schemas).
    public var withoutFindings: DatasetSchema {
        var s = self
        s.label.found = nil
        for i in s.features.indices { s.features[i].found = nil }
        return s
    }

    /// Names of the categorical columns whose categories are still to be learned.
    public var learnedColumns: [String] { features.filter(\.learnsCategories).map(\.name) }

    /// A fitted schema turned back into the one it was fitted from: columns whose categories
    /// were learned (`learned: true`) lose their list again. A schema with nothing learned is
    /// returned unchanged.
    public var unlearned: DatasetSchema {
        var s = self
        for i in s.features.indices where s.features[i].learned == true {
            s.features[i].categories = nil
            s.features[i].learned = nil
        }
        return s
    }

    /// Whether `fitted` (a fitted preprocessing's schema) was fitted from this schema: equal
    /// once `found` counts are dropped and learned category lists are turned back into
    /// "learn" (a column without `categories`).
    public func isFitted(as fitted: DatasetSchema) -> Bool {
        withoutFindings == fitted.withoutFindings.unlearned || withoutFindings == fitted.withoutFindings
    }

    /// The schema as pretty JSON with sorted keys.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "" : " at \(p)"
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing key '\(key.stringValue)'\(path(c))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): return "\(c.debugDescription)\(path(c))"
        @unknown default: return "\(error)"
        }
    }

    static func firstDuplicate(_ values: [String]) -> String? {
        var seen = Set<String>()
        for v in values where !seen.insert(v).inserted { return v }
        return nil
    }

    /// A name cut to 60 characters for messages.
    static func short(_ s: String) -> String { s.count <= 60 ? s : String(s.prefix(57)) + "..." }
}
