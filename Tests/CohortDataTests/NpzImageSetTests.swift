import CohortData
import Foundation
import XCTest

final class NpzImageSetTests: XCTestCase {
    /// `.npy` version 1.0 bytes of a uint8 array.
    func npyUInt8(_ values: [UInt8], shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '|u1', 'fortran_order': False, 'shape': \(dims), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let n = header.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8) + values
    }

    func write(_ arrays: [(String, [UInt8])]) throws -> String {
        let path = temporaryDirectory() + "/set.npz"
        try Data(ZipBuilder.npz(arrays).bytes()).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testMedMNISTLayoutIsPreparedLikeImageFiles() throws {
        // Two 2×2 RGB images, labels N×1; validation part N×H×W grey.
        let rgb: [UInt8] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120,
                            200, 0, 0, 0, 200, 0, 0, 0, 200, 255, 255, 255]
        let path = try write([("train_images", npyUInt8(rgb, shape: [2, 2, 2, 3])), ("train_labels", npyUInt8([1, 0], shape: [2, 1])),
                              ("val_images", npyUInt8([0, 255, 255, 0], shape: [1, 2, 2])), ("val_labels", npyUInt8([1], shape: [1]))])
        defer { removeDirectory((path as NSString).deletingLastPathComponent) }
        let parts = try NpzImageSet.load(path: path, schema: ImageSchema(image: .init(height: 2, width: 2, channels: .grey)))
        XCTAssertEqual(parts.classNames, ["0", "1"])
        XCTAssertEqual(parts.train.labels, [1, 0])
        XCTAssertEqual(parts.train.inputs.shape, [2, 4])
        let luma = (0.299 * 10 + 0.587 * 20 + 0.114 * 30).rounded() / 255
        XCTAssertEqual(parts.train.inputs.data[0], Float(luma), accuracy: 1e-6)
        XCTAssertEqual(parts.train.inputs.data[7], 1, accuracy: 1e-6)
        XCTAssertEqual(parts.validation?.inputs.data, [0, 1, 1, 0])
        XCTAssertNil(parts.test)
        // Grey to RGB repeats the value; normalisation per channel.
        let wide = try NpzImageSet.load(path: path, schema: ImageSchema(image: .init(height: 2, width: 2, channels: .rgb, mean: [0, 0.5, 1], std: [1, 1, 2])))
        XCTAssertEqual(Array(wide.validation!.inputs.data[3..<6]), [1, 0.5, 0])
    }

    func testEveryLayoutProblemIsListed() throws {
        let path = try write([("train_images", npyUInt8([1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 2, 2])), ("train_labels", npyUInt8([0, 7], shape: [2])),
                              ("test_images", npyUInt8([1, 2], shape: [2])), ("test_labels", npyUInt8([0, 0], shape: [2]))])
        defer { removeDirectory((path as NSString).deletingLastPathComponent) }
        let message = errorMessage { _ = try NpzImageSet.load(path: path, schema: ImageSchema(image: .init(height: 2, width: 2, channels: .grey), classes: ["a", "b"])) }
        XCTAssertTrue(message.contains("'test_images' has shape [2], not N×H×W"), message)
        XCTAssertTrue(message.contains("'train_labels'[1] is 7, not below the 2 classes"), message)
        let none = try write([("x", npyUInt8([1], shape: [1]))])
        XCTAssertTrue(errorMessage { _ = try NpzImageSet.load(path: none, schema: ImageSchema(image: .init(height: 2, width: 2, channels: .grey))) }
            .contains("no 'train_images' array"))
    }
}
