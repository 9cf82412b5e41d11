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
        // "\r\n" is one Character in Swift; isNewline covers it, "\n" and "\r".
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        guard let headerLine = lines.first else { throw DataError("\(path): empty file (a header row is required)") }
        let header = headerLine.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let labelIndex = header.firstIndex(of: label) else {
            throw DataError("\(path): no column '\(label)' for the label (columns: \(header.joined(separator: ", ")))")
        }
        let names = features ?? header.filter { $0 != label }
        let missing = names.filter { !header.contains($0) }
        guard missing.isEmpty else {
            throw DataError("\(path): missing feature column\(missing.count > 1 ? "s" : "") \(missing.map { "'\($0)'" }.joined(separator: ", ")) (the plan expects \(names.count) features)")
        }
        let indices = names.map { header.firstIndex(of: $0)! }
        var values: [Float] = []
        values.reserveCapacity((lines.count - 1) * names.count)
        var labels: [Int] = []
        var unlabelledValues: [Float] = []
        var unlabelledRows = 0
        for (offset, line) in lines.dropFirst().enumerated() {
            let lineNumber = offset + 2
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == header.count else {
                throw DataError("\(path):\(lineNumber): \(cells.count) cells, the header has \(header.count)")
            }
            let labelCell = cells[labelIndex]
            let isUnlabelled = labelCell.isEmpty || labelCell == "-1"
            for (name, index) in zip(names, indices) {
                guard let v = Float(cells[index]), v.isFinite else {
                    throw DataError("\(path):\(lineNumber): column '\(name)' holds '\(cells[index])', not a finite number")
                }
                if isUnlabelled { unlabelledValues.append(v) } else { values.append(v) }
            }
            if isUnlabelled { unlabelledRows += 1; continue }
            guard let y = Int(labelCell), y >= 0 else {
                throw DataError("\(path):\(lineNumber): label '\(labelCell)' in column '\(label)' is not a non-negative integer")
            }
            labels.append(y)
        }
        guard !labels.isEmpty || unlabelledRows > 0 else { throw DataError("\(path): no data rows after the header") }
        featureNames = names
        labelName = label
        data = LabelledData(inputs: Tensor(shape: [labels.count, names.count], data: values), labels: labels)
        unlabelled = Tensor(shape: [unlabelledRows, names.count], data: unlabelledValues)
    }

    /// Reads and parses a CSV file.
    public init(path: String, label: String, features: [String]? = nil) throws {
        guard let contents = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot read file") }
        guard let text = String(data: contents, encoding: .utf8) else { throw DataError("\(path): not UTF-8 text") }
        try self.init(text: text, path: path, label: label, features: features)
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
