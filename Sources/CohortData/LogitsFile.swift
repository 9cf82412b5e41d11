import CohortTensor

/// Model outputs `[N, classes]` written for other tools (`protocols/predictions.md`): a float32
/// `.npy` array, or a CSV table with a `logit_0,…` header and one row per sample whose values
/// are Swift's shortest decimal form that reads back to the same float32.
public enum LogitsFile {
    /// The output formats.
    public enum Format: Sendable { case npy, csv }

    /// The format of `path` by its extension.
    ///
    /// - Throws: `DataError` for any extension other than `.npy` and `.csv`.
    public static func format(of path: String) throws -> Format {
        let lower = path.lowercased()
        if lower.hasSuffix(".npy") { return .npy }
        if lower.hasSuffix(".csv") { return .csv }
        throw DataError("\(path): unknown output extension (expected .npy or .csv)")
    }

    /// Writes `logits` (`[N, classes]`) to `path` atomically in the format of its extension.
    public static func write(_ logits: Tensor, to path: String) throws {
        let n = logits.rows, k = logits.rank < 2 ? 1 : logits.columns
        switch try format(of: path) {
        case .npy:
            try NumpyFile.write(values: logits.data, shape: [n, k], to: path)
        case .csv:
            var text = (0..<k).map { "logit_\($0)" }.joined(separator: ",") + "\n"
            text.reserveCapacity(text.count + n * k * 12)
            for row in 0..<n {
                for j in 0..<k {
                    if j > 0 { text += "," }
                    text += logits.data[row * k + j].description
                }
                text += "\n"
            }
            try AtomicDataFileWriter.write(Array(text.utf8), to: path)
        }
    }
}
