import CohortNN
import CohortTensor

/// Images of one part of a `.npz` archive (`train_images`, …) kept as their uint8 pixels and
/// prepared (resize, colour, normalisation) only when a batch asks for them: memory holds one
/// byte per stored pixel instead of four per prepared value. Samples are flattened
/// channels-last rows (`[n, height × width × channels]`), as `ImageBatchSource` gives them.
public struct NpzImageSource: BatchSource, Sendable {
    /// The part's pixels, `N × height × width × channels` bytes (shared by sources of the same part).
    let pixels: [UInt8]
    let height: Int
    let width: Int
    /// Channels stored per pixel (1 or 3).
    let channels: Int
    /// Class label of every image of the part.
    let partLabels: [Int]
    /// Images of the part that make up this source, in order.
    public let indices: [Int]
    public let preparer: ImagePreparer

    init(pixels: [UInt8], height: Int, width: Int, channels: Int, labels: [Int], indices: [Int], preparer: ImagePreparer) {
        self.pixels = pixels; self.height = height; self.width = width; self.channels = channels
        self.partLabels = labels; self.indices = indices; self.preparer = preparer
    }

    /// The same part restricted to `indices` (positions into this source).
    public func subset(_ positions: [Int]) -> NpzImageSource {
        NpzImageSource(pixels: pixels, height: height, width: width, channels: channels, labels: partLabels,
                       indices: positions.map { indices[$0] }, preparer: preparer)
    }

    public var count: Int { indices.count }

    /// Class labels of the samples, in order.
    public var labels: [Int] { indices.map { partLabels[$0] } }

    public func batch(_ positions: ArraySlice<Int>) throws -> LabelledData {
        let sampleWidth = preparer.sampleWidth
        let want = preparer.preparation.channels.count
        let (h, w, c) = (height, width, channels)
        var values = [Float](repeating: 0, count: positions.count * sampleWidth)
        var converted = [UInt8](repeating: 0, count: h * w * want)
        values.withUnsafeMutableBufferPointer { out in
            pixels.withUnsafeBufferPointer { all in
                for (row, position) in positions.enumerated() {
                    let base = indices[position] * h * w * c
                    for p in 0..<(h * w) {
                        let at = base + p * c
                        if c == want {
                            for ch in 0..<c { converted[p * want + ch] = all[at + ch] }
                        } else if c == 1 {
                            for ch in 0..<want { converted[p * want + ch] = all[at] }
                        } else {   // RGB to grey (ITU-R BT.601 luma, as libjpeg)
                            let r: Float = 0.299 * Float(all[at]), g: Float = 0.587 * Float(all[at + 1]), b: Float = 0.114 * Float(all[at + 2])
                            converted[p] = UInt8((r + g + b).rounded())
                        }
                    }
                    preparer.prepare(DecodedImage(width: w, height: h, channels: want, pixels: converted),
                                     into: UnsafeMutableBufferPointer(rebasing: out[(row * sampleWidth)..<((row + 1) * sampleWidth)]))
                }
            }
        }
        return LabelledData(inputs: Tensor(shape: [positions.count, sampleWidth], data: values), labels: positions.map { partLabels[indices[$0]] })
    }

    /// Every sample prepared into memory.
    public func all() throws -> LabelledData { try batch(ArraySlice(0..<count)) }
}
