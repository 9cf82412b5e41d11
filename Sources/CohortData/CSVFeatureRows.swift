import CohortTensor

/// The feature columns of a CSV table, every row in file order, for prediction: the label
/// column is left out when the header has it and is optional unless `labelRequired`. Read with
/// `CSVReader` (quoted cells, any line ending), like `CSVDataset`.
public struct CSVFeatureRows {
    /// Feature column names, in the order of the feature vector.
    public let featureNames: [String]
    /// Features `[rows, features]`, one row per data line, in file order.
    public let rows: Tensor

    /// Reads `path`. Every column but `label` is a feature; values must be finite numbers.
    ///
    /// - Throws: `DataError` naming the file, line and column of a bad cell, a row of the wrong
    ///   width, a missing required label column, or a table without features.
    public init(path: String, label: String, labelRequired: Bool = false) throws {
        var reader = try CSVReader(path: path)
        guard let rawHeader = try reader.next(), !CSVReader.isBlank(rawHeader) else {
            throw DataError("\(path): empty file (a header row is required)")
        }
        let header = rawHeader.map { $0.trimmedSpaces }
        let labelIndex = header.firstIndex(of: label)
        if labelRequired && labelIndex == nil {
            throw DataError("\(path): no column '\(label)' for the label (columns: \(header.prefix(40).joined(separator: ", "))\(header.count > 40 ? ", …" : ""))")
        }
        let indices = header.indices.filter { $0 != labelIndex }
        guard !indices.isEmpty else { throw DataError("\(path): no feature columns besides the label '\(label)'") }
        var values: [Float] = []
        var count = 0
        while let raw = try reader.next() {
            let lineNumber = reader.line
            if CSVReader.isBlank(raw) { continue }
            guard raw.count == header.count else {
                throw DataError("\(path):\(lineNumber): \(raw.count) cells, the header has \(header.count)")
            }
            for index in indices {
                let cell = raw[index].trimmedSpaces
                guard let v = Float(cell), v.isFinite else {
                    throw DataError("\(path):\(lineNumber): column '\(header[index])' holds '\(cell)', not a finite number")
                }
                values.append(v)
            }
            count += 1
        }
        featureNames = indices.map { header[$0] }
        rows = Tensor(shape: [count, indices.count], data: values)
    }
}
