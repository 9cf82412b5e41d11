import CohortTensor

/// How image arrays lay out one sample: PyTorch's channels-first `[C, H, W]` or Cohort's
/// channels-last `[H, W, C]`.
public enum ImageLayout: String, Sendable, CaseIterable {
    case nchw, nhwc
}

/// The samples of a data file, in file order, shaped for a model: what `cohort predict` reads.
///
/// - `.npy`, `.npz` (the first array, or `key`): axis 0 is the sample; integer and boolean
///   elements become their numeric values (uint8 pixels stay 0…255, no scaling). With layout
///   `nchw` a `[N, C, H, W]` array is transposed to `[N, H, W, C]`; a `[N, H, W]` array (no
///   channel axis) fits a model taking `[H, W, 1]` in either layout.
/// - `.ctf`: every row, labelled or not; image files are NCHW by format and are transposed.
/// - `.csv`: every column but the label column (if present) is a feature, one row per sample;
///   rows are reshaped to the model's input when the value counts agree.
public enum PredictionInput {
    /// Reads `path` and returns `[N] + modelInputShape`.
    ///
    /// - Parameters:
    ///   - layout: the layout of image arrays; nil means `nhwc` (for `.ctf`, the file's own).
    ///   - label: the CSV label column, left out of the features when present.
    ///   - labelRequired: whether the CSV must have the label column.
    /// - Throws: `DataError` naming the file: unreadable data, a sample shape that does not
    ///   match the model, a layout that does not apply, or a non-finite value.
    public static func load(path: String, key: String? = nil, layout: ImageLayout? = nil, label: String = "target",
                            labelRequired: Bool = false, modelInputShape: [Int]) throws -> Tensor {
        let lower = path.lowercased()
        let samples: Tensor
        if lower.hasSuffix(".npy") || lower.hasSuffix(".npz") {
            let array: NumpyArray
            if lower.hasSuffix(".npy") {
                guard key == nil else { throw DataError("\(path): a key selects an array of a .npz archive; a .npy file holds one") }
                array = try NumpyFile.read(path: path)
            } else {
                let archive = try NumpyArchive(path: path)
                array = try key.map { try archive.read(key: $0) } ?? archive.readFirst()
            }
            samples = try shapeArray(array, layout: layout ?? .nhwc, path: path, modelInputShape: modelInputShape)
        } else if lower.hasSuffix(".ctf") {
            guard key == nil else { throw DataError("\(path): a key selects an array of a .npz archive, not of a .ctf file") }
            let (header, values, _) = try TensorFile.readRows(path: path)
            var t = Tensor(shape: header.shape, data: values)
            if header.layout == "NCHW" {
                guard layout != .nhwc else { throw DataError("\(path): a .ctf file stores images as NCHW; leave out the layout or give nchw") }
                t = t.nchwToNHWC()!
            }
            samples = try match(t, path: path, described: "samples of shape \(Array(t.shape.dropFirst()))", modelInputShape: modelInputShape)
        } else if lower.hasSuffix(".csv") {
            guard key == nil else { throw DataError("\(path): a key selects an array of a .npz archive, not of a CSV file") }
            let table = try CSVFeatureRows(path: path, label: label, labelRequired: labelRequired)
            let features = table.featureNames.count
            guard features == modelInputShape.reduce(1, *) else {
                throw DataError("\(path): \(features) feature columns, but the model takes \(modelInputShape.reduce(1, *)) values per sample (input \(modelInputShape))")
            }
            samples = table.rows.reshaped([table.rows.rows] + modelInputShape)
        } else {
            throw DataError("\(path): unknown data file extension (expected .npy, .npz, .ctf or .csv)")
        }
        try checkFinite(samples, path: path)
        return samples
    }

    /// An array with the sample on axis 0, rearranged from `layout` and checked against the model.
    static func shapeArray(_ array: NumpyArray, layout: ImageLayout, path: String, modelInputShape: [Int]) throws -> Tensor {
        guard !array.shape.isEmpty else { throw DataError("\(path): a 0-d array holds no samples (axis 0 must count them)") }
        var t = Tensor(shape: array.shape, data: array.values)
        if layout == .nchw && t.rank == 4 { t = t.nchwToNHWC()! }
        else if layout == .nchw && t.rank != 3 {
            throw DataError("\(path): layout nchw needs an [N, C, H, W] array (or [N, H, W]), got shape \(array.shape)")
        }
        let described = "array shape \(array.shape) (layout \(layout.rawValue)) gives samples of shape \(Array(t.shape.dropFirst()))"
        return try match(t, path: path, described: described, modelInputShape: modelInputShape)
    }

    /// `t` (`[N, ...]`) when its samples are the model's input, also `[N, H, W]` for a model
    /// taking `[H, W, 1]`; an error with a hint otherwise.
    static func match(_ t: Tensor, path: String, described: String, modelInputShape: [Int]) throws -> Tensor {
        let sample = Array(t.shape.dropFirst())
        if sample == modelInputShape { return t }
        if sample + [1] == modelInputShape { return t.reshaped([t.rows] + modelInputShape) }
        var hint = ""
        if sample.count == 3 && [sample[1], sample[2], sample[0]] == modelInputShape { hint = "; the array looks channels-first: give layout nchw" }
        if sample.count == 3 && [sample[2], sample[0], sample[1]] == modelInputShape { hint = "; the array looks channels-last: give layout nhwc" }
        throw DataError("\(path): \(described), but the model takes input \(modelInputShape)\(hint)")
    }

    /// Refuses a NaN or infinity, naming the sample.
    static func checkFinite(_ t: Tensor, path: String) throws {
        let finite = t.data.withUnsafeBufferPointer { VectorKernels.allFinite($0) }
        guard !finite, let flat = t.data.firstIndex(where: { !$0.isFinite }) else { return }
        let per = max(t.columns, 1)
        throw DataError("\(path): sample \(flat / per), value \(flat % per) is \(t.data[flat]); inputs must be finite")
    }
}
