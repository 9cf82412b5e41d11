/// An image decoded to 8-bit pixels, row-major, channels interleaved (`channels` 1 = grey,
/// 3 = RGB).
public struct DecodedImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// `height × width × channels` bytes.
    public var pixels: [UInt8]

    /// An image with the given parts. Precondition: `pixels.count == width × height × channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "\(pixels.count) bytes for \(width)×\(height)×\(channels)")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }
}
