import CohortTensor
import Foundation

/// The feature columns of a CSV table, every row in file order, for prediction: the label
/// column is left out when the header has it and is optional unless `labelRequired`.
public struct CSVFeatureRows {
    /// Feature column names, in the order of the feature vector.
    public let featureNames: [String]
    /// Features `[rows, features]`, one row per data line, in file order.
    public let rows: Tensor

    /// Reads `path`. Every column but `label` is a feature; values must be finite numbers.
    ///
    /// - Throws: `DataError` naming the file, line and column of a bad cell, a row of the wrong
    ///   width, a missing required label column, or a table without features or rows.
    public init(path: String, label: String, labelRequired: Bool = false) throws {
        guard let contents = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot read file") }
        guard let text = String(data: contents, encoding: .utf8) else { throw DataError("\(path): not UTF-8 text") }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        guard let headerLine = lines.first else { throw DataError("\(path): empty file (a header row is required)") }
        let header = headerLine.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let labelIndex = header.firstIndex(of: label)
        if labelRequired && labelIndex == nil {
            throw DataError("\(path): no column '\(label)' for the label (columns: \(header.joined(separator: ", ")))")
        }
        let indices = header.indices.filter { $0 != labelIndex }
        guard !indices.isEmpty else { throw DataError("\(path): no feature columns besides the label '\(label)'") }
        var values: [Float] = []
        values.reserveCapacity((lines.count - 1) * indices.count)
        var count = 0
        for (offset, line) in lines.dropFirst().enumerated() {
            let lineNumber = offset + 2
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == header.count else {
                throw DataError("\(path):\(lineNumber): \(cells.count) cells, the header has \(header.count)")
            }
            for index in indices {
                guard let v = Float(cells[index]), v.isFinite else {
                    throw DataError("\(path):\(lineNumber): column '\(header[index])' holds '\(cells[index])', not a finite number")
                }
                values.append(v)
            }
            count += 1
        }
        featureNames = indices.map { header[$0] }
        rows = Tensor(shape: [count, indices.count], data: values)
    }
}
