import CohortNN
import CohortTensor

/// One site's data as a node holds it: labelled samples, samples without a label, and what a
/// sample is (its shape, the classes).
///
/// Samples are stored flattened, one row each: `labelled.inputs` is `[n, features]` and
/// `unlabelled` is `[m, features]` with `features == sampleShape.product`. For single-channel
/// images (`sampleShape == [1, H, W]`) the flattened row is the same bytes as Cohort's
/// channels-last `[H, W, 1]`, so a model with `inputShape [H, W, 1]` takes the rows as they are.
public struct SiteData: Sendable {
    /// Samples with a class label (labels in `0..<classes`).
    public var labelled: LabelledData
    /// Samples without a label, `[m, features]` (may have zero rows).
    public var unlabelled: Tensor
    /// Shape of one sample: `[channels, height, width]` for images, `[features]` for tables.
    public var sampleShape: [Int]
    /// Number of classes of the task (labels are `0..<classes`).
    public var classes: Int
    /// Names of the feature columns (tabular data), if known.
    public var featureNames: [String]?
    /// Names of the classes, if known (`classNames.count == classes`).
    public var classNames: [String]?

    /// Data with the given parts. Preconditions: both tensors have `sampleShape.product`
    /// columns, labels lie in `0..<classes`, names (when given) match the counts.
    public init(labelled: LabelledData, unlabelled: Tensor? = nil, sampleShape: [Int], classes: Int,
                featureNames: [String]? = nil, classNames: [String]? = nil) {
        let features = sampleShape.reduce(1, *)
        precondition(!sampleShape.isEmpty && sampleShape.allSatisfy { $0 > 0 }, "sample shape \(sampleShape) must be non-empty and positive")
        precondition(labelled.inputs.rank == 2 && labelled.inputs.shape[1] == features,
                     "labelled inputs \(labelled.inputs.shape) must be [n, \(features)] for sample shape \(sampleShape)")
        let unlabelled = unlabelled ?? Tensor(shape: [0, features])
        precondition(unlabelled.rank == 2 && unlabelled.shape[1] == features,
                     "unlabelled inputs \(unlabelled.shape) must be [m, \(features)] for sample shape \(sampleShape)")
        precondition(classes >= 1, "a task needs at least one class, got \(classes)")
        precondition(labelled.labels.allSatisfy { $0 >= 0 && $0 < classes }, "labels must lie in 0..<\(classes)")
        precondition(featureNames == nil || featureNames!.count == features, "\(featureNames?.count ?? 0) feature names for \(features) features")
        precondition(classNames == nil || classNames!.count == classes, "\(classNames?.count ?? 0) class names for \(classes) classes")
        self.labelled = labelled
        self.unlabelled = unlabelled
        self.sampleShape = sampleShape
        self.classes = classes
        self.featureNames = featureNames
        self.classNames = classNames
    }

    /// Values per sample (`sampleShape.product`).
    public var features: Int { sampleShape.reduce(1, *) }

    /// Number of samples, labelled and unlabelled.
    public var count: Int { labelled.count + unlabelled.rows }

    /// Labelled samples per class, `[classes]`.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for y in labelled.labels { counts[y] += 1 }
        return counts
    }

    /// The per-sample shape a Cohort model takes: channels-last `[H, W, C]` for an image
    /// sample shape `[C, H, W]`, the sample shape itself otherwise.
    public var modelInputShape: [Int] {
        sampleShape.count == 3 ? [sampleShape[1], sampleShape[2], sampleShape[0]] : sampleShape
    }

    /// `rows` (`[n, features]`, samples in this data's layout) rearranged for a Cohort model:
    /// `[n, H, W, C]` for images (a transpose only when `C > 1`), `[n] + sampleShape` otherwise.
    public func modelInputs(_ rows: Tensor) -> Tensor {
        precondition(rows.columns == features, "rows have \(rows.columns) values, samples have \(features)")
        guard sampleShape.count == 3, sampleShape[0] > 1 else { return rows.reshaped([rows.rows] + modelInputShape) }
        let (c, h, w) = (sampleShape[0], sampleShape[1], sampleShape[2])
        var out = [Float].uninitialized(count: rows.count)
        rows.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for n in 0..<rows.rows {
                    let base = n * features
                    for ch in 0..<c { for p in 0..<(h * w) { dst[base + p * c + ch] = src[base + ch * h * w + p] } }
                }
            }
        }
        return Tensor(shape: [rows.rows, h, w, c], data: out)
    }

    /// A seeded, class-stratified split of the labelled samples: in each class,
    /// `validationFraction` of its samples (rounded) go to validation; when the fraction is
    /// positive and there are two or more labelled samples, validation gets at least one.
    /// The unlabelled samples all stay with `train`; `validation` has none.
    public func split(validationFraction: Double, seed: UInt64) -> (train: SiteData, validation: SiteData) {
        precondition(validationFraction >= 0 && validationFraction < 1, "validation fraction must be in [0, 1), got \(validationFraction)")
        var rng = SeededRandom(seed: seed)
        var byClass = [[Int]](repeating: [], count: classes)
        for (i, y) in labelled.labels.enumerated() { byClass[y].append(i) }
        var trainIdx: [Int] = [], valIdx: [Int] = []
        for var members in byClass {
            members.shuffle(using: &rng)
            let k = Int((Double(members.count) * validationFraction).rounded())
            valIdx += members[..<k]
            trainIdx += members[k...]
        }
        if validationFraction > 0 && valIdx.isEmpty && trainIdx.count >= 2 {
            valIdx.append(trainIdx.remove(at: rng.int(below: trainIdx.count)))
        }
        // Interleave the classes again: a seeded shuffle of each part.
        trainIdx.shuffle(using: &rng)
        valIdx.shuffle(using: &rng)
        var train = self
        train.labelled = labelled.subset(trainIdx)
        var validation = self
        validation.labelled = labelled.subset(valIdx)
        validation.unlabelled = Tensor(shape: [0, features])
        return (train, validation)
    }

    /// Reads a site's data file, choosing the format by extension: `.ctf` is a Cohort tensor
    /// file (see `protocols/tensor-file.md`), `.csv` a table with a header row whose `label`
    /// column holds class labels (empty or `-1` for an unlabelled row).
    ///
    /// - Parameter classes: the task's class count for CSV files (labels must be below it);
    ///   nil infers `max(label) + 1`. Ignored for `.ctf`, whose header states it.
    /// - Throws: `DataError` naming the file and the place of the problem.
    public static func load(path: String, label: String = "target", classes: Int? = nil) throws -> SiteData {
        let lower = path.lowercased()
        if lower.hasSuffix(".ctf") { return try TensorFile.read(path: path) }
        if lower.hasSuffix(".csv") {
            let csv = try CSVDataset(path: path, label: label)
            guard !csv.featureNames.isEmpty else { throw DataError("\(path): no feature columns besides the label '\(label)'") }
            let maxLabel = csv.data.labels.max() ?? -1
            let k = classes ?? max(maxLabel + 1, 1)
            guard k >= 1 else { throw DataError("\(path): class count must be at least 1, got \(k)") }
            if let row = csv.data.labels.firstIndex(where: { $0 >= k }) {
                throw DataError("\(path): label \(csv.data.labels[row]) of labelled row \(row) is not below the task's \(k) classes")
            }
            return SiteData(labelled: csv.data, unlabelled: csv.unlabelled, sampleShape: [csv.featureNames.count], classes: k,
                            featureNames: csv.featureNames)
        }
        throw DataError("\(path): unknown data file extension (expected .ctf or .csv)")
    }
}
