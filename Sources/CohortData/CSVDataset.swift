import CohortNN
import CohortTensor
import Foundation

/// A tabular dataset read from CSV: a header row, numeric feature columns and an integer class
/// label column. A row whose label cell is empty or `-1` is unlabelled: it goes to
/// `unlabelled`, not `data`. Errors name the file, line and column.
public struct CSVDataset {
    /// Feature column names, in the order of the feature vector.
    public let featureNames: [String]
    /// The label column's name.
    public let labelName: String
    /// Features `[rows, features]` and labels of the labelled rows, in file order.
    public let data: LabelledData
    /// Features `[rows, features]` of the unlabelled rows (label cell empty or `-1`), in file order.
    public let unlabelled: Tensor

    /// Parses CSV text. `features` selects and orders the feature columns (default: every column
    /// but the label). Labels must be non-negative integers, or empty / `-1` for unlabelled rows.
    public init(text: String, path: String, label: String, features: [String]? = nil) throws {
        try self.init(bytes: Array(text.utf8), path: path, label: label, features: features)
    }

    /// Parses CSV bytes (see `init(text:path:label:features:)`). One pass, linear in the
    /// file's size; quoted cells may hold commas; lines end in LF, CRLF or CR.
    public init(bytes: [UInt8], path: String, label: String, features: [String]? = nil) throws {
        var reader = CSVReader(bytes: bytes, path: path)
        guard let rawHeader = try reader.next(), !CSVReader.isBlank(rawHeader) else {
            throw DataError("\(path): empty file (a header row is required)")
        }
        let header = rawHeader.map { $0.trimmedSpaces }
        var position: [String: Int] = [:]
        position.reserveCapacity(header.count)
        for (i, name) in header.enumerated() where position[name] == nil { position[name] = i }
        guard let labelIndex = position[label] else {
            throw DataError("\(path): no column '\(label)' for the label (columns: \(header.prefix(40).joined(separator: ", "))\(header.count > 40 ? ", … (\(header.count) in all)" : ""))")
        }
        let names = features ?? header.filter { $0 != label }
        let missing = names.filter { position[$0] == nil }
        guard missing.isEmpty else {
            throw DataError("\(path): missing feature column\(missing.count > 1 ? "s" : "") \(HeaderMatch.quoted(missing)) (the plan expects \(names.count) features)")
        }
        let indices = names.map { position[$0]! }
        var values: [Float] = []
        var labels: [Int] = []
        var unlabelledValues: [Float] = []
        var unlabelledRows = 0
        while let raw = try reader.next() {
            let lineNumber = reader.line
            if CSVReader.isBlank(raw) { continue }
            guard raw.count == header.count else {
                throw DataError("\(path):\(lineNumber): \(raw.count) cells, the header has \(header.count)")
            }
            let labelCell = raw[labelIndex].trimmedSpaces
            let isUnlabelled = labelCell.isEmpty || labelCell == "-1"
            for (name, index) in zip(names, indices) {
                let cell = raw[index].trimmedSpaces
                guard let v = Float(cell), v.isFinite else {
                    throw DataError("\(path):\(lineNumber): column '\(name)' holds '\(cell)', not a finite number")
                }
                if isUnlabelled { unlabelledValues.append(v) } else { values.append(v) }
            }
            if isUnlabelled { unlabelledRows += 1; continue }
            // Whole numbers written with a decimal point ("0.0") are the class they name.
            guard let y = Int(labelCell) ?? Double(labelCell).flatMap({ $0 == $0.rounded() && $0 >= 0 && $0 < 1e15 ? Int($0) : nil }), y >= 0 else {
                throw DataError("\(path):\(lineNumber): label '\(labelCell)' in column '\(label)' is not a non-negative integer")
            }
            guard y < CSVDataset.maxClasses else {
                throw DataError("\(path):\(lineNumber): label \(y) in column '\(label)' is not below the limit of \(CSVDataset.maxClasses) classes; "
                                + "if the labels are codes, give a schema (--schema) listing the classes")
            }
            labels.append(y)
        }
        guard !labels.isEmpty || unlabelledRows > 0 else { throw DataError("\(path): no data rows after the header") }
        featureNames = names
        labelName = label
        data = LabelledData(inputs: Tensor(shape: [labels.count, names.count], data: values), labels: labels)
        unlabelled = Tensor(shape: [unlabelledRows, names.count], data: unlabelledValues)
    }

    /// Integer labels read without a schema must lie below this (a class count is allocated from them).
    public static let maxClasses = 100_000

    /// Reads and parses a CSV file.
    public init(path: String, label: String, features: [String]? = nil) throws {
        guard let bytes = FileHandleReader.contents(path) else { throw DataError("\(path): cannot read file") }
        try self.init(bytes: bytes, path: path, label: label, features: features)
    }

    /// A seeded split into training and validation parts (`validationFraction` of the rows,
    /// at least one when there are two or more rows).
    public func split(validationFraction: Double, seed: UInt64) -> (train: LabelledData, validation: LabelledData) {
        precondition(validationFraction >= 0 && validationFraction < 1, "validation fraction must be in [0, 1)")
        var rng = SeededRandom(seed: seed)
        let order = rng.permutation(data.count)
        var nVal = Int((Double(data.count) * validationFraction).rounded())
        if validationFraction > 0 && data.count >= 2 { nVal = max(nVal, 1) }
        return (data.subset(order[nVal...]), data.subset(order[..<nVal]))
    }
}
