import CohortNN
import CohortTensor

/// Images of an `ImageFolder` decoded and prepared only when a batch asks for them, so
/// memory grows with the batch size, not with the number of images. Samples are flattened
/// channels-last rows (`[n, height × width × channels]`), the layout a model with input
/// `[height, width, channels]` takes.
public struct ImageBatchSource: BatchSource, Sendable {
    public let folder: ImageFolder
    /// Indices into `folder.files` that make up this source (e.g. the training part).
    public let indices: [Int]
    public let preparer: ImagePreparer
    public let limits: ImageDecoder.Limits

    /// The images `indices` of `folder`, prepared by `preparer`.
    public init(folder: ImageFolder, indices: [Int], preparer: ImagePreparer, limits: ImageDecoder.Limits = .init()) {
        self.folder = folder; self.indices = indices; self.preparer = preparer; self.limits = limits
    }

    public var count: Int { indices.count }

    /// Class labels of the samples, in order (no decoding).
    public var labels: [Int] { indices.map { folder.labels[$0] } }

    public func batch(_ positions: ArraySlice<Int>) throws -> LabelledData {
        let width = preparer.sampleWidth
        let channels = preparer.preparation.channels.count
        var values = [Float](repeating: 0, count: positions.count * width)
        var labels: [Int] = []
        labels.reserveCapacity(positions.count)
        try values.withUnsafeMutableBufferPointer { out in
            for (row, position) in positions.enumerated() {
                let file = indices[position]
                let image = try ImageDecoder.decode(path: folder.files[file], channels: channels, limits: limits)
                preparer.prepare(image, into: UnsafeMutableBufferPointer(rebasing: out[(row * width)..<((row + 1) * width)]))
                labels.append(folder.labels[file])
            }
        }
        return LabelledData(inputs: Tensor(shape: [positions.count, width], data: values), labels: labels)
    }

    /// Every sample decoded into memory.
    public func all() throws -> LabelledData { try batch(ArraySlice(0..<count)) }
}
