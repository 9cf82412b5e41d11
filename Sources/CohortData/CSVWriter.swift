import CohortTensor

extension CSVDataset {
    /// Writes `set` as CSV atomically: a header of the feature names (or `f0`, `f1`, … when it
    /// has none) and `label`, then the labelled rows and the unlabelled rows with an empty label
    /// cell. Values are written in Swift's shortest round-trip form, so reading the file back
    /// gives the same floats.
    ///
    /// - Throws: `DataError` when a value is not finite (naming the row) or the file cannot be written.
    public static func write(_ set: SiteData, to path: String, label: String = "target") throws {
        let f = set.features
        let names = set.featureNames ?? (0..<f).map { "f\($0)" }
        guard !names.contains(label) else { throw DataError("\(path): a feature column is named '\(label)', like the label column") }
        var text = (names + [label]).joined(separator: ",") + "\n"
        text.reserveCapacity(set.count * f * 8)
        func append(_ tensor: Tensor, labels: [Int]?, part: String) throws {
            for row in 0..<tensor.rows {
                for j in 0..<f {
                    let v = tensor.data[row * f + j]
                    guard v.isFinite else { throw DataError("\(path): \(part) row \(row), column '\(names[j])' is \(v); values must be finite") }
                    text += format(v)
                    text += ","
                }
                text += labels.map { String($0[row]) } ?? ""
                text += "\n"
            }
        }
        try append(set.labelled.inputs, labels: set.labelled.labels, part: "labelled")
        try append(set.unlabelled, labels: nil, part: "unlabelled")
        try AtomicDataFileWriter.write(Array(text.utf8), to: path)
    }

    /// Integers without a decimal point; others in shortest round-trip form.
    private static func format(_ v: Float) -> String {
        if v == v.rounded() && abs(v) < 1e7 { return String(Int(v)) }
        return "\(v)"
    }
}
