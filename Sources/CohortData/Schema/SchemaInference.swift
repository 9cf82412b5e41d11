import Foundation

/// Drafts a `DatasetSchema` from a CSV file (`cohort schema infer`): each column's type, its
/// missing cells, its categories, and the label's classes. The draft is meant to be read and
/// edited before use.
///
/// Rules: a column whose present cells are all numbers is `numeric` (or `binary` when they
/// are only 0 and 1); a text column with two values is `binary`, with at most
/// `maxCategories` values `categorical`, otherwise (identifiers, free text) it goes to
/// `ignore`, as does a column with no values. Numeric columns fill missing cells with the
/// median, the others with the most frequent value.
public struct SchemaInference {
    /// The drafted schema.
    public var schema: DatasetSchema
    /// Data rows read (excluding the header and blank lines).
    public var rows: Int
    /// Rows whose label cell is missing.
    public var unlabelled: Int
    /// Columns put in `ignore`, with the reason.
    public var ignored: [(name: String, reason: String)]

    /// Text columns with more distinct values than this are ignored.
    public static let maxCategories = 100
    /// A label column with more distinct values than this is not a classification target.
    public static let maxClasses = 1000
    /// A numeric label with more distinct values than this is proposed as a regression target
    /// (unless the task is given).
    public static let regressionDistinct = 30

    private struct Column {
        var missing = 0
        var allNumeric = true
        var counts: [String: Int] = [:]
        var overflow = false
    }

    /// Reads `path` and drafts its schema with `label` as the label column.
    /// `task` forces classification or regression; nil proposes regression for a numeric label
    /// with more than `regressionDistinct` distinct values, classification otherwise.
    /// With `learnCategories` every text column that is not ignored is drafted as a
    /// categorical column without `categories`, to be learned in the statistics round (one
    /// site's file cannot tell which values the others hold, nor whether there are only two).
    public static func infer(path: String, label: String, missing markers: [String] = DatasetSchema.defaultMissing,
                             task: DatasetSchema.LabelTask? = nil, learnCategories: Bool = false) throws -> SchemaInference {
        guard let bytes = FileHandleReader.contents(path) else { throw DataError("\(path): cannot read file") }
        return try infer(bytes: bytes, path: path, label: label, missing: markers, task: task, learnCategories: learnCategories)
    }

    /// Drafts a schema from CSV bytes (see `infer(path:label:missing:)`).
    public static func infer(bytes: [UInt8], path: String, label: String, missing markers: [String] = DatasetSchema.defaultMissing,
                             task: DatasetSchema.LabelTask? = nil, learnCategories: Bool = false) throws -> SchemaInference {
        var reader = CSVReader(bytes: bytes, path: path)
        guard let rawHeader = try reader.next(), !CSVReader.isBlank(rawHeader) else { throw DataError("\(path): empty file (a header row is required)") }
        let header = rawHeader.map { $0.trimmedSpaces }
        var seen = Set<String>()
        let twice = header.filter { !seen.insert($0).inserted }
        guard twice.isEmpty else { throw DataError("\(path): column\(twice.count == 1 ? "" : "s") \(HeaderMatch.quoted(twice)) named more than once in the header") }
        guard let labelIndex = header.firstIndex(of: label) else {
            throw DataError("\(path): no column '\(label)' for the label (columns: \(HeaderMatch.quoted(header, limit: 40)))")
        }
        let markerSet = Set(markers.map { $0.trimmedSpaces })
        var columns = [Column](repeating: Column(), count: header.count)
        var rows = 0
        var badRows: [Int] = []
        var badCount = 0
        while let cells = try reader.next() {
            if CSVReader.isBlank(cells) { continue }
            guard cells.count == header.count else {
                badCount += 1
                if badRows.count < 3 { badRows.append(reader.line) }
                continue
            }
            rows += 1
            for (j, cell) in cells.enumerated() {
                let t = cell.trimmedSpaces
                if markerSet.contains(t) { columns[j].missing += 1; continue }
                let number = ClassMatcher.number(t).flatMap { Float($0).isFinite ? $0 : nil }
                if number == nil { columns[j].allNumeric = false }
                if columns[j].overflow { continue }
                let limit = j == labelIndex ? maxClasses : maxCategories
                let key = number.map { _ in ClassMatcher.canonical(t, numeric: true) } ?? t
                if columns[j].counts[key] == nil && columns[j].counts.count >= limit { columns[j].overflow = true; continue }
                columns[j].counts[key, default: 0] += 1
            }
        }
        guard badCount == 0 else {
            throw DataError("\(path): \(badCount) row\(badCount == 1 ? "" : "s") with a cell count other than the header's \(header.count) (rows \(badRows.map(String.init).joined(separator: ", "))\(badCount > badRows.count ? ", …" : ""))")
        }
        guard rows > 0 else { throw DataError("\(path): no data rows after the header") }

        let labelColumn = columns[labelIndex]
        guard !labelColumn.counts.isEmpty else { throw DataError("\(path): label column '\(label)' has no values") }
        let manyNumbers = labelColumn.allNumeric && (labelColumn.overflow || labelColumn.counts.count > regressionDistinct)
        let labelSpec: DatasetSchema.LabelColumn
        if task == .regression || (task == nil && manyNumbers) {
            guard labelColumn.allNumeric else {
                throw DataError("\(path): label column '\(label)' holds text (e.g. '\(labelColumn.counts.keys.first { ClassMatcher.number($0) == nil } ?? "")'); a regression target must be numbers")
            }
            labelSpec = .regression(column: label)
        } else {
            guard !labelColumn.overflow else {
                throw DataError("\(path): label column '\(label)' has more than \(maxClasses) distinct values; it looks like a continuous target" + (labelColumn.allNumeric ? " (give --task regression)" : ""))
            }
            let classes = ordered(Array(labelColumn.counts.keys), numeric: labelColumn.allNumeric)
            labelSpec = DatasetSchema.LabelColumn(column: label, classes: classes, found: classes.map { labelColumn.counts[$0]! })
        }

        var features: [FeatureColumn] = []
        var ignored: [(String, String)] = []
        for (j, name) in header.enumerated() where j != labelIndex {
            let c = columns[j]
            let found = FeatureColumn.Found(missing: c.missing, distinct: c.counts.count)
            if c.counts.isEmpty && !c.overflow { ignored.append((name, "no values")); continue }
            if c.allNumeric {
                let keys = Set(c.counts.keys)
                if !c.overflow && keys == ["0", "1"] {
                    features.append(FeatureColumn(name: name, type: .binary, categories: ["0", "1"], missingPolicy: .mostFrequent, found: found))
                } else {
                    features.append(FeatureColumn(name: name, type: .numeric, missingPolicy: .median, found: found))
                }
                continue
            }
            if c.overflow { ignored.append((name, "text with more than \(maxCategories) distinct values")); continue }
            let values = ordered(Array(c.counts.keys), numeric: false)
            if learnCategories {
                features.append(FeatureColumn(name: name, type: .categorical, missingPolicy: .mostFrequent, found: found))
                continue
            }
            features.append(FeatureColumn(name: name, type: values.count == 2 ? .binary : .categorical, categories: values,
                                          missingPolicy: .mostFrequent, found: found))
        }
        guard !features.isEmpty else { throw DataError("\(path): no usable feature columns besides the label '\(label)'") }
        let schema = DatasetSchema(label: labelSpec, features: features, missing: markers,
                                   ignore: ignored.isEmpty ? nil : ignored.map(\.0))
        try schema.validate(source: "\(path) (inferred schema)")
        return SchemaInference(schema: schema, rows: rows, unlabelled: labelColumn.missing, ignored: ignored)
    }

    /// Values sorted numerically when they are numbers, else in code-point order.
    private static func ordered(_ values: [String], numeric: Bool) -> [String] {
        numeric ? values.sorted { ClassMatcher.number($0)! < ClassMatcher.number($1)! } : values.sorted()
    }

    /// A short human summary: rows, the label's classes, one line per column.
    public func summary(path: String) -> String {
        var lines = ["\(path): \(rows) rows, \(schema.features.count) features, label '\(schema.label.column)'"]
        let counts = schema.label.found ?? []
        if schema.label.isRegression {
            lines.append("  label '\(schema.label.column)': continuous target (regression, standardised; errors reported in its units)"
                         + (unlabelled > 0 ? "; \(unlabelled) rows without a value" : ""))
        } else { lines.append("  label '\(schema.label.column)': \(schema.label.classes.count) classes: "
                     + zip(schema.label.classes, counts).map { "\($0) (\($1))" }.joined(separator: ", ")
                     + (unlabelled > 0 ? "; \(unlabelled) rows without a label" : "")) }
        let width = min(28, max(8, schema.features.map(\.name.count).max() ?? 8))
        for f in schema.features {
            var line = "  " + f.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + f.type.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
            if f.learnsCategories { line += "[learned in federation; \(f.found?.distinct ?? 0) value\(f.found?.distinct == 1 ? "" : "s") here]  " }
            else if f.type != .numeric { line += "[" + ProblemReport.list(f.values, limit: 6) + "]  " }
            let missing = f.found?.missing ?? 0
            line += missing == 0 ? "no missing cells" : "\(missing) missing → \(f.policy.rawValue)"
            lines.append(line)
        }
        for (name, reason) in ignored { lines.append("  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + "  ignored (\(reason))") }
        lines.append("  encoded width \(schema.encodedWidth) values per sample (numeric features standardised, categories one-hot"
                     + (schema.learnedColumns.isEmpty ? ")" : "; learned categories add one each once fitted)"))
        return lines.joined(separator: "\n")
    }
}
