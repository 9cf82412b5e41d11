import CJPEG
import CPNG
import Foundation

/// Decodes PNG (libpng) and JPEG (libjpeg-turbo) files to 8-bit grey or RGB pixels.
///
/// Files are treated as hostile: the header's dimensions are checked against `Limits` before
/// any pixel buffer is allocated, and a corrupt or truncated file (libjpeg's warnings
/// included) is a `DataError` naming the file. Nothing here exits or traps on input.
public enum ImageDecoder {
    /// Bounds checked before allocating a decoded image.
    public struct Limits: Sendable {
        /// Largest width or height.
        public var maxSide = 16_384
        /// Largest `width × height`.
        public var maxPixels = 64 << 20
        /// Largest file read.
        public var maxFileBytes = 256 << 20
        public init() {}
    }

    /// The container format of an image file, by its first bytes.
    public enum Format: Sendable { case png, jpeg }

    /// The format of `bytes` by its signature, nil when neither PNG nor JPEG.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 8, bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        return nil
    }

    /// Reads and decodes the image file at `path` to `channels` (1 grey, 3 RGB) 8-bit channels.
    public static func decode(path: String, channels: Int, limits: Limits = Limits()) throws -> DecodedImage {
        try decode(try readFile(path, limit: limits.maxFileBytes), path: path, channels: channels, limits: limits)
    }

    /// Decodes an image held in memory; `path` only names it in errors.
    public static func decode(_ bytes: [UInt8], path: String, channels: Int, limits: Limits = Limits()) throws -> DecodedImage {
        guard channels == 1 || channels == 3 else { throw DataError("\(path): \(channels) channels requested; 1 (grey) or 3 (RGB)") }
        switch format(of: bytes) {
        case .png: return try decodePNG(bytes, path: path, channels: channels, limits: limits)
        case .jpeg: return try decodeJPEG(bytes, path: path, channels: channels, limits: limits)
        case nil: throw DataError("\(path): not a PNG or JPEG file (unknown signature)")
        }
    }

    static func checkSize(width: Int, height: Int, path: String, limits: Limits) throws {
        guard width > 0, height > 0 else { throw DataError("\(path): image is \(width)×\(height)") }
        guard width <= limits.maxSide, height <= limits.maxSide, width * height <= limits.maxPixels else {
            throw DataError("\(path): image is \(width)×\(height), larger than the limit (sides up to \(limits.maxSide), \(limits.maxPixels) pixels)")
        }
    }

    static func decodePNG(_ bytes: [UInt8], path: String, channels: Int, limits: Limits) throws -> DecodedImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        func failure(_ what: String) -> DataError {
            let message = withUnsafeBytes(of: image.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            png_image_free(&image)
            return DataError("\(path): corrupt PNG: \(what): \(message)")
        }
        let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw failure("header") }
        let (width, height) = (Int(image.width), Int(image.height))
        do { try checkSize(width: width, height: height, path: path, limits: limits) } catch {
            png_image_free(&image)
            throw error
        }
        image.format = channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        let finished = pixels.withUnsafeMutableBytes { out in
            png_image_finish_read(&image, nil, out.baseAddress, Int32(width * channels), nil)
        }
        guard finished != 0 else { throw failure("pixels") }
        png_image_free(&image)
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    static func decodeJPEG(_ bytes: [UInt8], path: String, channels: Int, limits: Limits) throws -> DecodedImage {
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        func text() -> String { String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        var w: UInt32 = 0, h: UInt32 = 0
        let header = bytes.withUnsafeBufferPointer { b in cohort_jpeg_dimensions(b.baseAddress, UInt(b.count), &w, &h, &message) }
        guard header == 0 else { throw DataError("\(path): corrupt JPEG: header: \(text())") }
        let (width, height) = (Int(w), Int(h))
        try checkSize(width: width, height: height, path: path, limits: limits)
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        let capacity = pixels.count
        let decoded = bytes.withUnsafeBufferPointer { b in
            pixels.withUnsafeMutableBufferPointer { out in
                cohort_jpeg_decode(b.baseAddress, UInt(b.count), channels == 1 ? 1 : 0, w, h, out.baseAddress, capacity, &message)
            }
        }
        guard decoded == 0 else { throw DataError("\(path): corrupt JPEG: \(text())") }
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// The bytes of a regular file of at most `limit` bytes.
    static func readFile(_ path: String, limit: Int) throws -> [UInt8] {
        let reader = try DataFileReader(path: path)
        guard reader.size <= limit else { throw DataError("\(path): \(reader.size) bytes is larger than the image file limit of \(limit)") }
        return try reader.bytes(reader.size, for: "image")
    }
}
