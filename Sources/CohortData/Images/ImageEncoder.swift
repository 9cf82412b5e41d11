import CJPEG
import CPNG
import Foundation

/// Writes 8-bit grey or RGB images as PNG (libpng) or JPEG (libjpeg-turbo): for tests,
/// benchmarks and generated cohorts.
public enum ImageEncoder {
    /// PNG file bytes of `image` (lossless).
    public static func png(_ image: DecodedImage) throws -> [UInt8] {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = image.channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        var size = 0
        // First call sizes the output, the second writes it.
        let sized = image.pixels.withUnsafeBytes { px in
            png_image_write_to_memory(&png, nil, &size, 0, px.baseAddress, Int32(image.width * image.channels), nil)
        }
        guard sized != 0, size > 0 else { png_image_free(&png); throw DataError("PNG encoding failed") }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { o in
            image.pixels.withUnsafeBytes { px in
                png_image_write_to_memory(&png, o.baseAddress, &size, 0, px.baseAddress, Int32(image.width * image.channels), nil)
            }
        }
        png_image_free(&png)
        guard written != 0 else { throw DataError("PNG encoding failed") }
        return Array(out.prefix(size))
    }

    /// JPEG file bytes of `image` at `quality` (1–100).
    public static func jpeg(_ image: DecodedImage, quality: Int = 90) throws -> [UInt8] {
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let rc = image.pixels.withUnsafeBufferPointer { px in
            cohort_jpeg_encode(px.baseAddress, UInt32(image.width), UInt32(image.height), Int32(image.channels), Int32(quality),
                               &buffer, &size, &message)
        }
        defer { free(buffer) }
        guard rc == 0, let buffer else {
            throw DataError("JPEG encoding failed: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
