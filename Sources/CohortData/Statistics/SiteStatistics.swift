import CohortTensor
import Foundation

/// What one site tells the coordinator in the federated statistics round, computed from its
/// training rows (raw, as `SchemaReader` reads them): per feature the counts, sums and sums of
/// squares, missing counts, category counts and a quantile sketch. Merged over sites, these
/// give the same fit as the pooled rows (`FittedPreprocessing.fit(schema:statistics:)`).
/// Spec: protocols/dataset-schema.md, "Federated statistics".
public struct SiteStatistics: Codable, Equatable, Sendable {
    /// One feature's statistics.
    public struct Feature: Codable, Equatable, Sendable {
        /// The feature's name (as in the schema).
        public var name: String
        /// Non-missing cells.
        public var count: Int
        /// Missing cells.
        public var missing: Int
        /// Numeric: Σx and Σx² over the non-missing cells.
        public var sum: Double?
        public var sumSquares: Double?
        /// Numeric: the quantile sketch of the non-missing cells.
        public var sketch: QuantileSketch?
        /// Categorical and binary: non-missing cells per category, in the schema's order
        /// (learned categories: per text of `categories`).
        public var categoryCounts: [Int]?
        /// Learned categorical columns only: the distinct texts of the site's training rows,
        /// in text order, each counted in `categoryCounts` (at least once).
        public var categories: [String]? = nil
    }

    /// Training rows (labelled and unlabelled).
    public var rows: Int
    /// One entry per schema feature, in order.
    public var features: [Feature]
    /// Regression only: the labelled rows' raw targets as a numeric column (named after the
    /// label; `missing` = unlabelled rows), so the target's scaling is fitted in the round too.
    /// Nil for classification.
    public var target: Feature? = nil

    public init(rows: Int, features: [Feature], target: Feature? = nil) {
        self.rows = rows
        self.features = features
        self.target = target
    }

    /// Largest row count accepted from a site (2^40).
    public static let maxRows = 1 << 40

    /// Statistics of raw rows `[n, schema.features.count]` (NaN = missing) and, for a regression
    /// schema, the labelled rows' raw `targets` (`[m, 1]`, m ≤ n).
    /// Learned categorical columns need the `categories` the rows were read with (their cells
    /// are indices into it); their entries carry the texts and their counts.
    public static func compute(schema: DatasetSchema, rows raw: Tensor, targets: Tensor? = nil, sketchCapacity: Int,
                               categories: CategoryDictionary? = nil) throws -> SiteStatistics {
        let f = schema.features.count
        guard raw.rank == 2, raw.columns == f || raw.rows == 0 else { throw DataError("raw rows \(raw.shape) do not have the schema's \(f) features") }
        let n = raw.rank == 2 ? raw.rows : 0
        var features: [Feature] = []
        var values: [Float] = []
        values.reserveCapacity(n)
        let learned = schema.learnedColumns.isEmpty ? [] : (categories ?? CategoryDictionary(schema: schema)).counts(in: raw)
        for (j, column) in schema.features.enumerated() {
            values.removeAll(keepingCapacity: true)
            raw.data.withUnsafeBufferPointer { p in
                for i in 0..<n where !p[i * f + j].isNaN { values.append(p[i * f + j]) }
            }
            var entry = Feature(name: column.name, count: values.count, missing: n - values.count)
            if column.type == .numeric {
                var sum = 0.0, squares = 0.0
                for v in values { sum += Double(v); squares += Double(v) * Double(v) }
                entry.sum = sum
                entry.sumSquares = squares
                values.sort()
                entry.sketch = QuantileSketch(sorted: values, capacity: sketchCapacity)
            } else if column.learnsCategories {
                let found: LearnedCategories.Counts = j < learned.count ? learned[j] ?? ([], []) : ([], [])
                guard found.counts.reduce(0, +) == values.count else {
                    throw DataError("column '\(column.name)': the rows were not read with this site's category dictionary")
                }
                entry.categories = found.texts
                entry.categoryCounts = found.counts
            } else {
                var counts = [Int](repeating: 0, count: column.values.count)
                for v in values { let k = Int(v); if k >= 0 && k < counts.count { counts[k] += 1 } }
                entry.categoryCounts = counts
            }
            features.append(entry)
        }
        var target: Feature? = nil
        if schema.label.isRegression {
            var values = (targets?.data ?? []).filter { $0.isFinite }
            guard values.count <= n else { throw DataError("\(values.count) targets for \(n) training rows") }
            var entry = Feature(name: schema.label.column, count: values.count, missing: n - values.count)
            var sum = 0.0, squares = 0.0
            for v in values { sum += Double(v); squares += Double(v) * Double(v) }
            entry.sum = sum
            entry.sumSquares = squares
            values.sort()
            entry.sketch = QuantileSketch(sorted: values, capacity: sketchCapacity)
            target = entry
        }
        return SiteStatistics(rows: n, features: features, target: target)
    }

    /// A generous upper bound on the JSON bytes of a site's statistics for `schema` (checked
    /// before a message is decoded).
    public static func byteBudget(schema: DatasetSchema, sketchCapacity: Int) -> Int {
        var bytes = 4096
        for f in schema.features {
            bytes += 512 + f.name.utf8.count * 6
            bytes += f.type == .numeric ? sketchCapacity * 56 : f.values.count * 24
            // A learned column: up to its cap of texts (escaped JSON, up to 6 bytes per byte) and counts.
            if f.learnsCategories { bytes += f.categoryCap * (CategoryDictionary.maxTextBytes * 6 + 32) }
        }
        if schema.label.isRegression { bytes += 512 + schema.label.column.utf8.count * 6 + sketchCapacity * 56 }
        return bytes
    }

    /// Checks received statistics against `schema`: one entry per feature with its name, counts
    /// in range and consistent (values + missing = rows; category counts sum to the values),
    /// finite sums with Σx² ≥ (Σx)²/n, the fields of the column's type, a well-formed sketch of
    /// at most `sketchCapacity` points whose weights sum to the count. With `sketches` false
    /// (additive statistics summed under secure aggregation) numeric columns carry no sketch.
    public func validate(schema: DatasetSchema, sketchCapacity: Int, sketches: Bool = true) throws(StatisticsError) {
        guard rows >= 0, rows <= Self.maxRows else { throw .absurdCount(feature: "*", field: "rows", value: rows, limit: Self.maxRows) }
        guard features.count == schema.features.count else { throw .featureCount(got: features.count, expected: schema.features.count) }
        for (i, (entry, column)) in zip(features, schema.features).enumerated() {
            let name = column.name
            guard entry.name == name else { throw .featureName(index: i, got: entry.name, expected: name) }
            guard entry.count >= 0, entry.count <= rows else { throw .absurdCount(feature: name, field: "count", value: entry.count, limit: rows) }
            guard entry.missing >= 0, entry.missing <= rows else { throw .absurdCount(feature: name, field: "missing", value: entry.missing, limit: rows) }
            guard entry.count + entry.missing == rows else {
                throw .inconsistentCounts(feature: name, detail: "\(entry.count) values + \(entry.missing) missing ≠ \(rows) rows")
            }
            if column.type == .numeric {
                try Self.validateNumeric(entry, name: name, sketchCapacity: sketchCapacity, sketches: sketches)
            } else {
                guard entry.sum == nil, entry.sumSquares == nil, entry.sketch == nil else {
                    throw .wrongFields(feature: name, detail: "a \(column.type.rawValue) column has category counts only")
                }
                guard let counts = entry.categoryCounts else { throw .wrongFields(feature: name, detail: "a \(column.type.rawValue) column needs categoryCounts") }
                if column.learnsCategories {
                    try Self.validateLearned(entry, counts: counts, column: column, markers: Set(schema.missingMarkers.map(\.trimmedSpaces)))
                } else {
                    guard entry.categories == nil else { throw .wrongFields(feature: name, detail: "category texts for a column whose categories are listed") }
                    guard counts.count == column.values.count else { throw .categoryCount(feature: name, got: counts.count, expected: column.values.count) }
                }
                var total = 0
                for c in counts {
                    guard c >= 0, c <= rows else { throw .absurdCount(feature: name, field: "category count", value: c, limit: rows) }
                    total += c
                }
                // Under `unknown: ignore` cells that are no category are values without a category count.
                guard total == entry.count || (column.ignoresUnknown && total <= entry.count) else {
                    throw .inconsistentCounts(feature: name, detail: "category counts sum to \(total), the column has \(entry.count) values")
                }
            }
        }
        let label = schema.label.column
        if schema.label.isRegression {
            guard let t = target else { throw .wrongFields(feature: label, detail: "a regression label needs the target's statistics") }
            guard t.name == label else { throw .featureName(index: features.count, got: t.name, expected: label) }
            guard t.count >= 0, t.count <= rows else { throw .absurdCount(feature: label, field: "count", value: t.count, limit: rows) }
            guard t.missing >= 0, t.count + t.missing == rows else {
                throw .inconsistentCounts(feature: label, detail: "\(t.count) targets + \(t.missing) unlabelled ≠ \(rows) rows")
            }
            try Self.validateNumeric(t, name: label, sketchCapacity: sketchCapacity, sketches: sketches)
        } else if target != nil {
            throw .wrongFields(feature: label, detail: "target statistics for a classification label")
        }
    }

    /// The checks of a learned column's texts: as many as counts, at most the column's cap,
    /// each 1...`CategoryDictionary.maxTextBytes` bytes, distinct, in text order, no missing
    /// marker, every count positive.
    private static func validateLearned(_ entry: Feature, counts: [Int], column: FeatureColumn, markers: Set<String>) throws(StatisticsError) {
        let name = column.name
        guard let texts = entry.categories else { throw .wrongFields(feature: name, detail: "a learned categorical column needs categories (its texts)") }
        guard texts.count == counts.count else { throw .categoryCount(feature: name, got: counts.count, expected: texts.count) }
        guard texts.count <= column.categoryCap else { throw .absurdCount(feature: name, field: "distinct categories", value: texts.count, limit: column.categoryCap) }
        for (i, t) in texts.enumerated() {
            let bytes = t.utf8.count
            guard bytes >= 1, bytes <= CategoryDictionary.maxTextBytes else {
                throw .absurdCount(feature: name, field: "category text bytes", value: bytes, limit: CategoryDictionary.maxTextBytes)
            }
            guard t.trimmedSpaces == t, !markers.contains(t) else { throw .wrongFields(feature: name, detail: "category '\(DatasetSchema.short(t))' is untrimmed or a missing marker") }
            guard i == 0 || texts[i - 1] < t else { throw .wrongFields(feature: name, detail: "category texts are not distinct and in text order") }
            guard counts[i] >= 1 else { throw .absurdCount(feature: name, field: "category count", value: counts[i], limit: Self.maxRows) }
        }
    }

    /// The checks of one numeric column's (or the regression target's) entry.
    private static func validateNumeric(_ entry: Feature, name: String, sketchCapacity: Int, sketches: Bool) throws(StatisticsError) {
        guard entry.categoryCounts == nil else { throw .wrongFields(feature: name, detail: "a numeric column has no category counts") }
        guard let sum = entry.sum, let squares = entry.sumSquares, (entry.sketch != nil) == sketches else {
            throw .wrongFields(feature: name, detail: sketches ? "a numeric column needs sum, sumSquares and sketch" : "additive statistics carry sum and sumSquares and no sketch")
        }
        guard sum.isFinite else { throw .notFinite(feature: name, field: "sum") }
        guard squares.isFinite else { throw .notFinite(feature: name, field: "sumSquares") }
        guard squares >= 0 else { throw .inconsistentCounts(feature: name, detail: "sum of squares \(squares) is negative") }
        if entry.count == 0 && (sum != 0 || squares != 0) {
            throw .inconsistentCounts(feature: name, detail: "no values but sum \(sum), sum of squares \(squares)")
        }
        // Cauchy–Schwarz: n·Σx² ≥ (Σx)², up to rounding.
        if entry.count > 0 && sum * sum / Double(entry.count) > squares * (1 + 1e-9) + 1e-9 {
            throw .inconsistentCounts(feature: name, detail: "sum \(sum) and sum of squares \(squares) cannot come from \(entry.count) values")
        }
        if let sketch = entry.sketch, let problem = sketch.problem(count: entry.count, capacity: sketchCapacity) { throw .sketch(feature: name, detail: problem) }
    }

    /// The statistics of several sites' rows together (each validated against `schema` first).
    public static func merge(_ sites: [SiteStatistics], schema: DatasetSchema, sketchCapacity: Int) -> SiteStatistics {
        var merged = SiteStatistics(rows: sites.reduce(0) { $0 + $1.rows }, features: [])
        for (j, column) in schema.features.enumerated() {
            let parts = sites.map { $0.features[j] }
            var entry = Feature(name: column.name, count: parts.reduce(0) { $0 + $1.count }, missing: parts.reduce(0) { $0 + $1.missing })
            if column.type == .numeric {
                entry.sum = parts.reduce(0) { $0 + ($1.sum ?? 0) }
                entry.sumSquares = parts.reduce(0) { $0 + ($1.sumSquares ?? 0) }
                entry.sketch = QuantileSketch.merge(parts.compactMap(\.sketch), capacity: sketchCapacity)
            } else if column.learnsCategories {
                let merged = LearnedCategories.merge(parts.map { ($0.categories ?? [], $0.categoryCounts ?? []) })
                entry.categories = merged.texts
                entry.categoryCounts = merged.counts
            } else {
                var counts = [Int](repeating: 0, count: column.values.count)
                for p in parts { for (k, c) in (p.categoryCounts ?? []).enumerated() where k < counts.count { counts[k] += c } }
                entry.categoryCounts = counts
            }
            merged.features.append(entry)
        }
        let targets = sites.compactMap(\.target)
        if schema.label.isRegression, !targets.isEmpty {
            var t = Feature(name: schema.label.column, count: targets.reduce(0) { $0 + $1.count }, missing: targets.reduce(0) { $0 + $1.missing })
            t.sum = targets.reduce(0) { $0 + ($1.sum ?? 0) }
            t.sumSquares = targets.reduce(0) { $0 + ($1.sumSquares ?? 0) }
            let sketches = targets.compactMap(\.sketch)
            t.sketch = sketches.isEmpty ? nil : QuantileSketch.merge(sketches, capacity: sketchCapacity)
            merged.target = t
        }
        return merged
    }

    /// Decodes a received message after checking its size against the schema's budget.
    public static func decode(_ bytes: [UInt8], schema: DatasetSchema, sketchCapacity: Int) throws(StatisticsError) -> SiteStatistics {
        let limit = byteBudget(schema: schema, sketchCapacity: sketchCapacity)
        guard bytes.count <= limit else { throw .tooLarge(bytes: bytes.count, limit: limit) }
        let statistics: SiteStatistics
        do { statistics = try JSONDecoder().decode(SiteStatistics.self, from: Data(bytes)) } catch {
            throw .malformed("\(error)")
        }
        try statistics.validate(schema: schema, sketchCapacity: sketchCapacity)
        return statistics
    }
}
