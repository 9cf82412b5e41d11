import CohortNN
import CohortTensor

/// Images stored as arrays in the MedMNIST `.npz` layout: `train_images` / `train_labels`,
/// optionally `val_…` and `test_…`; images uint8 `N×H×W` (grey) or `N×H×W×C` (C 1 or 3),
/// labels `N` or `N×1` class indices. Each image is brought to the schema's size, colour and
/// normalisation as an ImageFolder's are. `open` keeps the images as uint8 and prepares them
/// batch by batch (`NpzImageSource`); `load` prepares every image into memory.
public enum NpzImageSet {
    /// The parts of an archive, prepared.
    public struct Parts: Sendable {
        public var train: LabelledData
        /// `val_images` / `val_labels`, when the archive has them.
        public var validation: LabelledData?
        /// `test_images` / `test_labels`, when the archive has them.
        public var test: LabelledData?
        /// The class names (the schema's, or `0…k−1` with `k` one more than the largest label).
        public var classNames: [String]
    }

    /// The parts of an archive as sources that prepare their images when a batch asks.
    public struct Sources: Sendable {
        public var train: NpzImageSource
        public var validation: NpzImageSource?
        public var test: NpzImageSource?
        public var classNames: [String]

        /// The training part and a validation part: the archive's `val_…` arrays, else a
        /// seeded, class-stratified `validationFraction` of the training images (as
        /// `SiteData.split`). No image is prepared.
        public func trainAndValidation(validationFraction: Double, seed: UInt64) -> (train: NpzImageSource, validation: NpzImageSource) {
            if let validation { return (train, validation) }
            let (t, v) = ImageFolder.stratifiedSplit(labels: train.labels, classes: classNames.count, validationFraction: validationFraction, seed: seed)
            return (train.subset(t), train.subset(v))
        }
    }

    /// The training part and a validation part: the archive's `val_…` arrays, else a seeded,
    /// class-stratified `validationFraction` of the training images (as `SiteData.split`).
    public static func trainAndValidation(_ parts: Parts, validationFraction: Double, seed: UInt64) -> (train: LabelledData, validation: LabelledData) {
        if let validation = parts.validation { return (parts.train, validation) }
        let site = SiteData(labelled: parts.train, sampleShape: [parts.train.inputs.columns], classes: parts.classNames.count)
        let (train, validation) = site.split(validationFraction: validationFraction, seed: seed)
        return (train.labelled, validation.labelled)
    }

    /// Reads `path` with `schema` and prepares every image into memory.
    public static func load(path: String, schema: ImageSchema) throws -> Parts {
        let sources = try open(path: path, schema: schema)
        return Parts(train: try sources.train.all(), validation: try sources.validation?.all(), test: try sources.test?.all(),
                     classNames: sources.classNames)
    }

    /// Reads `path` with `schema`, keeping the images as uint8 (one byte per stored pixel).
    /// Every part's problems (shapes, dtypes, labels out of range) are listed in one error
    /// naming the archive.
    public static func open(path: String, schema: ImageSchema) throws -> Sources {
        let archive = try NumpyArchive(path: path)
        let prefixes = ["train", "val", "test"].filter { archive.keys.contains($0 + "_images") }
        guard prefixes.contains("train") else {
            throw DataError("\(path): no 'train_images' array (MedMNIST layout: train_images, train_labels, val_…, test_…; it holds \(archive.keys.joined(separator: ", ")))")
        }
        var raw: [String: (shape: [Int], pixels: [UInt8], labels: [Int])] = [:]
        var problems: [String] = []
        for prefix in prefixes {
            let images = try archive.readBytes(key: prefix + "_images")
            guard archive.keys.contains(prefix + "_labels") else { problems.append("'\(prefix)_images' without '\(prefix)_labels'"); continue }
            let labels = try archive.read(key: prefix + "_labels")
            let s = images.shape
            var usable = true
            if images.dtype.kind != .unsigned || images.dtype.itemSize != 1 { problems.append("'\(prefix)_images' is \(images.dtype), not uint8"); usable = false }
            if !(s.count == 3 || (s.count == 4 && (s[3] == 1 || s[3] == 3))) || s.contains(0) {
                problems.append("'\(prefix)_images' has shape \(s), not N×H×W or N×H×W×C (C 1 or 3)"); continue
            }
            if s[1] > ImageDecoder.Limits().maxSide || s[2] > ImageDecoder.Limits().maxSide { problems.append("'\(prefix)_images' of \(s[1])×\(s[2]) is over the side limit") }
            let n = s[0]
            guard labels.values.count == n, labels.shape.count == 1 || (labels.shape.count == 2 && labels.shape[1] == 1) else {
                problems.append("'\(prefix)_labels' has shape \(labels.shape) for \(n) images (expected \(n) or \(n)×1)"); continue
            }
            if let bad = labels.values.firstIndex(where: { !($0 >= 0 && $0 < 1_000_000 && $0 == $0.rounded()) }) {
                problems.append("'\(prefix)_labels'[\(bad)] is \(labels.values[bad]), not a class index"); continue
            }
            guard usable, let pixels = images.bytes else { continue }
            raw[prefix] = (s, pixels, labels.values.map { Int($0) })
        }
        let classes: [String]
        if let named = schema.classes { classes = named } else {
            classes = (0...(raw.values.flatMap(\.labels).max() ?? 0)).map(String.init)
        }
        for (prefix, part) in raw.sorted(by: { $0.key < $1.key }) {
            if let bad = part.labels.firstIndex(where: { $0 >= classes.count }) {
                problems.append("'\(prefix)_labels'[\(bad)] is \(part.labels[bad]), not below the \(classes.count) classes")
            }
        }
        guard problems.isEmpty, raw["train"] != nil else { throw DataError("\(path): " + problems.joined(separator: "; ")) }
        let preparer = ImagePreparer(schema.image)
        func source(_ prefix: String) -> NpzImageSource? {
            guard let part = raw[prefix] else { return nil }
            let s = part.shape
            return NpzImageSource(pixels: part.pixels, height: s[1], width: s[2], channels: s.count == 4 ? s[3] : 1, labels: part.labels,
                                  indices: Array(0..<s[0]), preparer: preparer)
        }
        return Sources(train: source("train")!, validation: source("val"), test: source("test"), classNames: classes)
    }
}
