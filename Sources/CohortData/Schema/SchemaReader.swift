import CohortNN
import CohortTensor
import Foundation

/// Reads a CSV file with a `DatasetSchema` into raw rows: one value per schema feature, in the
/// schema's order whatever the file's column order — the number for a numeric column, the
/// category index for a categorical or binary one, NaN for a missing cell. `FittedPreprocessing`
/// turns raw rows into model inputs.
///
/// Every problem in the file is collected and thrown together, grouped per column, naming the
/// first rows (file line numbers; the header is row 1).
public enum SchemaReader {
    /// Reads `path` with `schema`. Rows whose label cell is missing (or `-1` when that is not a
    /// class) are unlabelled; rows with a missing cell in a `drop-row` column are left out.
    /// The result's `sampleShape` is `[schema.features.count]` and its classes are the schema's;
    /// for a regression label the labelled rows carry raw targets `[n, 1]` (one class), and a
    /// target cell that is not a finite float32 number is a problem naming its row.
    /// With `predicting`, see `read(bytes:path:schema:predicting:)`.
    public static func read(path: String, schema: DatasetSchema, predicting: Bool = false) throws -> SiteData {
        guard let bytes = FileHandleReader.contents(path) else { throw DataError("\(path): cannot read file") }
        return try read(bytes: bytes, path: path, schema: schema, predicting: predicting)
    }

    /// Reads CSV bytes with `schema` (see `read(path:schema:)`). With `predicting`, the label
    /// column may be absent and is not read; every data row becomes an unlabelled sample in file
    /// order, and a missing cell in a `drop-row` column is a problem (no row may be left out).
    /// A schema with learned categorical columns (no `categories`) needs the
    /// `read(path:schema:categories:)` form: this one refuses it.
    public static func read(bytes: [UInt8], path: String, schema: DatasetSchema, predicting: Bool = false) throws -> SiteData {
        let learned = schema.learnedColumns
        guard learned.isEmpty else {
            throw DataError("\(path): column\(learned.count == 1 ? "" : "s") \(HeaderMatch.quoted(learned)) learn\(learned.count == 1 ? "s its" : " their") categories from the data (no 'categories' in the schema); read the file with a fitted preprocessing (a checkpoint that carries one) or list the categories")
        }
        var categories = CategoryDictionary(schema: schema)
        return try read(bytes: bytes, path: path, schema: schema, predicting: predicting, categories: &categories)
    }

    /// Reads `path` with `schema`, whose learned categorical columns (no `categories`) are read
    /// into `categories`: each cell becomes the local index of its text there (the same
    /// dictionary is shared by every file of a site), to be mapped to the fitted categories
    /// by `CategoryDictionary.resolve` once they are known.
    /// - Throws: `CategoryLearningError` when a learned column passes its cap of distinct values
    ///   or holds a text that is too long; `DataError` for the file's other problems.
    public static func read(path: String, schema: DatasetSchema, predicting: Bool = false, categories: inout CategoryDictionary) throws -> SiteData {
        guard let bytes = FileHandleReader.contents(path) else { throw DataError("\(path): cannot read file") }
        return try read(bytes: bytes, path: path, schema: schema, predicting: predicting, categories: &categories)
    }

    /// `read(path:schema:predicting:categories:)` over CSV bytes.
    public static func read(bytes: [UInt8], path: String, schema: DatasetSchema, predicting: Bool = false,
                            categories: inout CategoryDictionary) throws -> SiteData {
        var reader = CSVReader(bytes: bytes, path: path)
        guard let rawHeader = try reader.next(), !CSVReader.isBlank(rawHeader) else {
            throw DataError("\(path): empty file (a header row is required)")
        }
        let header = rawHeader.map { $0.trimmedSpaces }
        let columnOf = try HeaderMatch.columns(header, schema: schema, path: path, labelOptional: predicting)
        let markers = Set(schema.missingMarkers.map { $0.trimmedSpaces })
        let featureCount = schema.features.count
        let matchers = schema.features.map { $0.type == .numeric ? nil : ClassMatcher($0.values) }
        let learns = schema.features.map(\.learnsCategories)
        let ignores = schema.features.map(\.ignoresUnknown)
        let valueLists = schema.features.map { ProblemReport.list($0.values) }
        let labelMatcher = ClassMatcher(schema.label.classes)
        let labelList = ProblemReport.list(schema.label.classes)
        let regression = schema.label.isRegression
        let minusOneIsClass = regression || labelMatcher.index(of: "-1") != nil
        let labelColumn = columnOf.label
        var targets: [Float] = []

        var problems = ProblemReport()
        var labelled: [Float] = [], labels: [Int] = [], unlabelled: [Float] = []
        var unlabelledRows = 0, dropped = 0
        var row = [Float](repeating: 0, count: featureCount)
        while let cells = try reader.next() {
            if CSVReader.isBlank(cells) { continue }
            let line = reader.line
            guard cells.count == header.count else {
                problems.add(column: "", kind: .cellCount(header: header.count), value: "\(cells.count)", row: line)
                continue
            }
            var drop = false
            for (j, feature) in schema.features.enumerated() {
                let cell = cells[columnOf.features[j]]
                let trimmed = cell.trimmedSpaces
                if markers.contains(trimmed) {
                    row[j] = .nan
                    switch feature.policy {
                    case .error: problems.add(column: feature.name, kind: .missing(marker: trimmed), value: trimmed, row: line)
                    case .dropRow:
                        if predicting { problems.add(column: feature.name, kind: .missing(marker: trimmed), value: trimmed, row: line) }
                        drop = true
                    default: break
                    }
                    continue
                }
                if learns[j] {
                    row[j] = Float(try categories.index(feature: j, text: trimmed, path: path, row: line))
                } else if let matcher = matchers[j] {
                    if let k = matcher.index(of: trimmed) { row[j] = Float(k) } else if ignores[j] { row[j] = -1 } else {
                        problems.add(column: feature.name, kind: .notListed(values: valueLists[j]), value: cell, row: line)
                    }
                } else if let x = ClassMatcher.number(trimmed), Float(x).isFinite {
                    row[j] = Float(x)
                } else {
                    problems.add(column: feature.name, kind: .notNumber, value: cell, row: line)
                }
            }
            if predicting {
                if problems.isEmpty { unlabelled += row; unlabelledRows += 1 }
                continue
            }
            guard let labelColumn else { continue }
            let labelCell = cells[labelColumn].trimmedSpaces
            var label: Int? = nil
            var target: Float = 0
            if !(markers.contains(labelCell) || (labelCell == "-1" && !minusOneIsClass)) {
                if regression {
                    // A continuous target: a finite float32 number (NaN, inf and overflow are problems).
                    if let x = ClassMatcher.number(labelCell), Float(x).isFinite { label = 0; target = Float(x) } else {
                        problems.add(column: schema.label.column, kind: .notNumber, value: cells[labelColumn], row: line)
                    }
                } else if let k = labelMatcher.index(of: labelCell) { label = k } else {
                    problems.add(column: schema.label.column, kind: .notListed(values: labelList), value: cells[labelColumn], row: line)
                }
            }
            if drop { dropped += 1; continue }
            guard problems.isEmpty else { continue }
            if let label {
                labelled += row
                labels.append(label)
                if regression { targets.append(target) }
            } else {
                unlabelled += row
                unlabelledRows += 1
            }
        }
        guard problems.isEmpty else { throw DataError("\(path): " + problems.message()) }
        guard !labels.isEmpty || unlabelledRows > 0 else {
            throw DataError("\(path): no data rows after the header" + (dropped > 0 ? " (\(dropped) dropped for missing cells in drop-row columns)" : ""))
        }
        let inputs = Tensor(shape: [labels.count, featureCount], data: labelled)
        return SiteData(labelled: regression ? LabelledData(inputs: inputs, targets: Tensor(shape: [labels.count, 1], data: targets))
                                             : LabelledData(inputs: inputs, labels: labels),
                        unlabelled: Tensor(shape: [unlabelledRows, featureCount], data: unlabelled),
                        sampleShape: [featureCount], classes: regression ? 1 : schema.label.classes.count,
                        featureNames: schema.features.map(\.name), classNames: regression ? nil : schema.label.classes)
    }
}

/// Matching a file's header to a schema by column name.
enum HeaderMatch {
    /// The file column of each schema feature and of the label. Missing columns, unexpected
    /// columns and columns named twice are listed together in one error.
    /// With `labelOptional` the label column may be absent (its position is then nil).
    static func columns(_ header: [String], schema: DatasetSchema, path: String, labelOptional: Bool = false) throws -> (features: [Int], label: Int?) {
        var position: [String: Int] = [:]
        position.reserveCapacity(header.count)
        var twice: [String] = []
        for (i, name) in header.enumerated() {
            if position[name] != nil { twice.append(name) } else { position[name] = i }
        }
        var missing: [String] = []
        let wanted = [schema.label.column] + schema.features.map(\.name)
        for name in wanted.dropFirst(labelOptional ? 1 : 0) where position[name] == nil { missing.append(name) }
        let known = Set(wanted + (schema.ignore ?? []))
        let unexpected = header.filter { !known.contains($0) }
        var problems: [String] = []
        if !missing.isEmpty {
            problems.append("missing column\(missing.count == 1 ? "" : "s") \(quoted(missing))")
        }
        if !unexpected.isEmpty {
            problems.append("unexpected column\(unexpected.count == 1 ? "" : "s") \(quoted(unexpected)) (add \(unexpected.count == 1 ? "it" : "them") to the schema's features or \"ignore\")")
        }
        if !twice.isEmpty { problems.append("column\(twice.count == 1 ? "" : "s") \(quoted(twice)) named more than once in the header") }
        guard problems.isEmpty else { throw DataError("\(path): " + problems.joined(separator: "; ")) }
        return (schema.features.map { position[$0.name]! }, position[schema.label.column])
    }

    static func quoted(_ names: [String], limit: Int = 20) -> String {
        let shown = names.prefix(limit).map { "'\(DatasetSchema.short($0))'" }.joined(separator: ", ")
        return names.count > limit ? shown + ", … (\(names.count) in all)" : shown
    }
}
