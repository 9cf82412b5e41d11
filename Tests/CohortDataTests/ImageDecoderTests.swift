import CohortData
import Foundation
import XCTest

final class ImageDecoderTests: XCTestCase {
    /// A deterministic image with every channel distinct.
    func gradient(width: Int, height: Int, channels: Int) -> DecodedImage {
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for y in 0..<height { for x in 0..<width { for c in 0..<channels {
            pixels[(y * width + x) * channels + c] = UInt8((x * 7 + y * 13 + c * 50) % 256)
        } } }
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    func testPNGRoundTripIsExactForGreyAndRGB() throws {
        for channels in [1, 3] {
            let image = gradient(width: 37, height: 23, channels: channels)
            let png = try ImageEncoder.png(image)
            XCTAssertEqual(ImageDecoder.format(of: png), .png)
            XCTAssertEqual(try ImageDecoder.decode(png, path: "a.png", channels: channels), image)
        }
    }

    func testPNGGreyStoredRGBAndBackAgree() throws {
        // A grey image written as RGB (r = g = b) decodes to (nearly) the same grey values.
        let grey = gradient(width: 16, height: 9, channels: 1)
        let rgb = DecodedImage(width: 16, height: 9, channels: 3, pixels: grey.pixels.flatMap { [$0, $0, $0] })
        let back = try ImageDecoder.decode(try ImageEncoder.png(rgb), path: "rgb.png", channels: 1)
        XCTAssertEqual(back.channels, 1)
        XCTAssertLessThanOrEqual(zip(back.pixels, grey.pixels).map { abs(Int($0) - Int($1)) }.max()!, 1)
        // And grey decoded as RGB repeats the value in each channel.
        let wide = try ImageDecoder.decode(try ImageEncoder.png(grey), path: "grey.png", channels: 3)
        XCTAssertEqual(wide.pixels, rgb.pixels)
    }

    func testJPEGRoundTripWithinTolerance() throws {
        // A smooth image (JPEG is lossy; sharp edges ring).
        var pixels = [UInt8](repeating: 0, count: 40 * 32 * 3)
        for y in 0..<32 { for x in 0..<40 { for c in 0..<3 { pixels[(y * 40 + x) * 3 + c] = UInt8(20 + x * 3 + y * 2 + c * 20) } } }
        let image = DecodedImage(width: 40, height: 32, channels: 3, pixels: pixels)
        let jpeg = try ImageEncoder.jpeg(image, quality: 95)
        XCTAssertEqual(ImageDecoder.format(of: jpeg), .jpeg)
        let back = try ImageDecoder.decode(jpeg, path: "a.jpg", channels: 3)
        XCTAssertEqual([back.width, back.height, back.channels], [40, 32, 3])
        let errors = zip(back.pixels, pixels).map { abs(Int($0) - Int($1)) }
        XCTAssertLessThanOrEqual(errors.max()!, 12)
        XCTAssertLessThan(Double(errors.reduce(0, +)) / Double(errors.count), 2.5)
        // Decoded as grey: one channel, close to the luminance.
        let grey = try ImageDecoder.decode(jpeg, path: "a.jpg", channels: 1)
        XCTAssertEqual(grey.pixels.count, 40 * 32)
        let luma = 0.299 * Double(pixels[0]) + 0.587 * Double(pixels[1]) + 0.114 * Double(pixels[2])
        XCTAssertEqual(Double(grey.pixels[0]), luma, accuracy: 8)
    }

    func testTruncatedPNGIsAnErrorNamingTheFile() throws {
        let png = try ImageEncoder.png(gradient(width: 64, height: 64, channels: 3))
        for cut in [png.count / 2, 20, 9] {
            let message = errorMessage { _ = try ImageDecoder.decode(Array(png.prefix(cut)), path: "site/cut.png", channels: 3) }
            XCTAssertTrue(message.hasPrefix("site/cut.png: corrupt PNG"), "\(cut): \(message)")
        }
    }

    func testGarbageAndTruncatedJPEGAreErrors() throws {
        var garbage: [UInt8] = [0xFF, 0xD8, 0xFF]
        var state: UInt32 = 7
        for _ in 0..<500 { state = state &* 1_664_525 &+ 1_013_904_223; garbage.append(UInt8(state >> 24)) }
        let message = errorMessage { _ = try ImageDecoder.decode(garbage, path: "g.jpg", channels: 1) }
        XCTAssertTrue(message.hasPrefix("g.jpg: corrupt JPEG"), message)
        let jpeg = try ImageEncoder.jpeg(gradient(width: 64, height: 64, channels: 3))
        let cut = errorMessage { _ = try ImageDecoder.decode(Array(jpeg.prefix(jpeg.count * 2 / 3)), path: "t.jpg", channels: 3) }
        XCTAssertTrue(cut.hasPrefix("t.jpg: corrupt JPEG"), cut)
        let unknown = errorMessage { _ = try ImageDecoder.decode(Array("GIF89a....".utf8), path: "x.png", channels: 1) }
        XCTAssertEqual(unknown, "x.png: not a PNG or JPEG file (unknown signature)")
    }

    /// A PNG whose header claims `width × height`, with a token IDAT and IEND.
    func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
            return be(UInt32(data.count)) + body + be(referenceCRC32(body))
        }
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let ihdr = be(width) + be(height) + [8, 0, 0, 0, 0]   // 8-bit grey
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0, 0, 0, 1]) + chunk("IEND", [])
    }

    func testHugeHeaderIsRefusedBeforeAllocating() {
        let message = errorMessage { _ = try ImageDecoder.decode(pngHeader(width: 100_000, height: 100_000), path: "huge.png", channels: 1) }
        XCTAssertTrue(message.hasPrefix("huge.png: image is 100000×100000, larger than the limit"), message)
        // Within the side limit but over the pixel budget.
        var limits = ImageDecoder.Limits()
        limits.maxPixels = 1000
        let budget = errorMessage { _ = try ImageDecoder.decode(pngHeader(width: 100, height: 100), path: "b.png", channels: 1, limits: limits) }
        XCTAssertTrue(budget.contains("100×100, larger than the limit"), budget)
    }

    func testFilesThatAreNotRegularOrTooLargeAreRefused() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        XCTAssertTrue(errorMessage { _ = try ImageDecoder.decode(path: dir, channels: 1) }.contains("not a regular file"))
        try Data(try ImageEncoder.png(gradient(width: 8, height: 8, channels: 1))).write(to: URL(fileURLWithPath: dir + "/a.png"))
        var limits = ImageDecoder.Limits()
        limits.maxFileBytes = 10
        XCTAssertTrue(errorMessage { _ = try ImageDecoder.decode(path: dir + "/a.png", channels: 1, limits: limits) }.contains("larger than the image file limit"))
        XCTAssertEqual(try ImageDecoder.decode(path: dir + "/a.png", channels: 1).pixels, gradient(width: 8, height: 8, channels: 1).pixels)
    }
}
