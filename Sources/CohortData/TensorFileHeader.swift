/// The JSON header of a Cohort tensor file (`.ctf`): what the samples are. See
/// `protocols/tensor-file.md` for the exact rules.
public struct TensorFileHeader: Codable, Equatable, Sendable {
    /// `[N, F]` (layout `NF`) or `[N, C, H, W]` (layout `NCHW`); `N` is the number of samples.
    public var shape: [Int]
    /// `"NF"` for feature vectors, `"NCHW"` for images.
    public var layout: String
    /// Element type; only `"float32"`.
    public var dtype: String
    /// Number of classes; labels lie in `0..<classes` or are −1 (unlabelled).
    public var classes: Int
    /// Optional class names, one per class.
    public var classNames: [String]?
    /// Optional feature names, one per feature (layout `NF` only).
    public var featureNames: [String]?
    /// Optional free-form string metadata (site, generator, seed, ...).
    public var meta: [String: String]?

    /// A header with every field given.
    public init(shape: [Int], layout: String, dtype: String = "float32", classes: Int, classNames: [String]? = nil,
                featureNames: [String]? = nil, meta: [String: String]? = nil) {
        self.shape = shape; self.layout = layout; self.dtype = dtype; self.classes = classes
        self.classNames = classNames; self.featureNames = featureNames; self.meta = meta
    }

    /// Number of samples (`shape[0]`).
    public var sampleCount: Int { shape.first ?? 0 }
    /// Shape of one sample (`shape` without `N`).
    public var sampleShape: [Int] { Array(shape.dropFirst()) }
    /// Values per sample.
    public var features: Int { sampleShape.reduce(1, *) }

    /// The largest header, in bytes.
    public static let maxHeaderBytes = 1 << 20
    /// The largest sample count.
    public static let maxSamples = Int(Int32.max)
    /// The largest number of values in one sample.
    public static let maxFeatures = 1 << 26
    /// The largest class count.
    public static let maxClasses = 65_536

    /// Checks every rule of the header on its own; the reason names the field.
    func validate() throws {
        func fail(_ reason: String) -> DataError { DataError(reason) }
        guard dtype == "float32" else { throw fail("field 'dtype' is '\(dtype)', only 'float32' is supported") }
        switch layout {
        case "NF": guard shape.count == 2 else { throw fail("field 'shape' \(shape) has rank \(shape.count), layout 'NF' needs rank 2") }
        case "NCHW": guard shape.count == 4 else { throw fail("field 'shape' \(shape) has rank \(shape.count), layout 'NCHW' needs rank 4") }
        default: throw fail("field 'layout' is '\(layout)', expected 'NF' or 'NCHW'")
        }
        guard shape[0] >= 0 && shape[0] <= Self.maxSamples else {
            throw fail("field 'shape' has sample count \(shape[0]), outside 0…\(Self.maxSamples)")
        }
        var f = 1
        for d in shape.dropFirst() {
            guard d >= 1 && d <= Self.maxFeatures else { throw fail("field 'shape' \(shape) has a sample dimension outside 1…\(Self.maxFeatures)") }
            f *= d
            guard f <= Self.maxFeatures else { throw fail("field 'shape' \(shape) has more than \(Self.maxFeatures) values per sample") }
        }
        guard classes >= 1 && classes <= Self.maxClasses else { throw fail("field 'classes' is \(classes), outside 1…\(Self.maxClasses)") }
        if let classNames, classNames.count != classes {
            throw fail("field 'classNames' has \(classNames.count) names for \(classes) classes")
        }
        if let featureNames {
            guard layout == "NF" else { throw fail("field 'featureNames' is only allowed with layout 'NF'") }
            guard featureNames.count == f else { throw fail("field 'featureNames' has \(featureNames.count) names for \(f) features") }
        }
    }
}
