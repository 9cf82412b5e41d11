import CohortNN
import CohortTensor

/// One site's ImageFolder read with an image schema: the seeded validation split by file
/// index, a streamed training part and the validation part.
public struct ImageSite: Sendable {
    public let schema: ImageSchema
    public let folder: ImageFolder
    /// Training images, decoded per batch.
    public let train: ImageBatchSource
    /// Validation images (decode with `validation.all()` when they fit in memory).
    public let validation: ImageBatchSource

    /// Scans `root` and splits it (`ImageFolder.split`).
    public static func open(root: String, schema: ImageSchema, validationFraction: Double, seed: UInt64) throws -> ImageSite {
        let folder = try ImageFolder.scan(root: root, classes: schema.classes)
        let (train, validation) = folder.split(validationFraction: validationFraction, seed: seed)
        let preparer = ImagePreparer(schema.image)
        return ImageSite(schema: schema, folder: folder, train: ImageBatchSource(folder: folder, indices: train, preparer: preparer),
                         validation: ImageBatchSource(folder: folder, indices: validation, preparer: preparer))
    }

    /// Another folder (a test set) read with the same classes and preparation.
    public func sibling(root: String) throws -> ImageBatchSource {
        let other = try ImageFolder.scan(root: root, classes: folder.classNames)
        return ImageBatchSource(folder: other, indices: Array(0..<other.count), preparer: train.preparer)
    }

    /// At most `limit` positions spread evenly over `count` samples: the bounded sample of a
    /// streamed training set kept in memory (BatchNorm statistics, input checks).
    public static func calibrationPositions(count: Int, limit: Int = 1024) -> [Int] {
        guard count > 0, limit > 0 else { return [] }
        let k = min(count, limit)
        return (0..<k).map { $0 * count / k }
    }

    /// The first `limit` training images decoded (for BatchNorm recalibration).
    public func calibrationSample(limit: Int = 1024) throws -> Tensor {
        try train.batch(ArraySlice(0..<min(limit, train.count))).inputs
    }
}
