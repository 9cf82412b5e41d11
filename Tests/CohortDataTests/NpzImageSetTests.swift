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

    /// `open` keeps the pixels as uint8 and prepares them per batch: any batch, in any order,
    /// equals the rows `load` prepares up front, and the stratified split without `val_…`
    /// arrays picks the same samples as the in-memory split.
    func testStreamedSourcesPrepareTheSameRowsAsLoad() throws {
        var pixels: [UInt8] = [], labels: [UInt8] = []
        for i in 0..<30 {
            for p in 0..<(3 * 3 * 3) { pixels.append(UInt8((i * 37 + p * 11) % 256)) }
            labels.append(UInt8(i % 3))
        }
        let path = try write([("train_images", npyUInt8(pixels, shape: [30, 3, 3, 3])), ("train_labels", npyUInt8(labels, shape: [30]))])
        defer { removeDirectory((path as NSString).deletingLastPathComponent) }
        let schema = ImageSchema(image: .init(height: 2, width: 2, channels: .grey, mean: [0.5], std: [0.25]))
        let loaded = try NpzImageSet.load(path: path, schema: schema)
        let sources = try NpzImageSet.open(path: path, schema: schema)
        XCTAssertEqual(sources.train.count, 30)
        XCTAssertEqual(sources.train.labels, loaded.train.labels)
        let batch = try sources.train.batch([7, 2, 29])
        XCTAssertEqual(batch.labels, [1, 2, 2])
        XCTAssertEqual(batch.inputs.shape, [3, 4])
        for (row, i) in [7, 2, 29].enumerated() {
            XCTAssertEqual(Array(batch.inputs.data[(row * 4)..<((row + 1) * 4)]), Array(loaded.train.inputs.data[(i * 4)..<((i + 1) * 4)]), "image \(i)")
        }
        let (train, validation) = sources.trainAndValidation(validationFraction: 0.2, seed: 5)
        let (memoryTrain, memoryValidation) = NpzImageSet.trainAndValidation(loaded, validationFraction: 0.2, seed: 5)
        XCTAssertEqual(validation.count, 6)
        XCTAssertEqual(train.count + validation.count, 30)
        XCTAssertEqual(try train.all().inputs.data, memoryTrain.inputs.data)
        XCTAssertEqual(try validation.all().inputs.data, memoryValidation.inputs.data)
        XCTAssertEqual(validation.labels, memoryValidation.labels)
        XCTAssertTrue(Set(train.indices).isDisjoint(with: validation.indices))
        // A deflated archive (numpy.savez_compressed) reads to the same bytes.
        let deflated = (path as NSString).deletingLastPathComponent + "/deflated.npz"
        try Data(ZipBuilder.npz([("train_images", npyUInt8(pixels, shape: [30, 3, 3, 3])), ("train_labels", npyUInt8(labels, shape: [30]))],
                                deflate: true).bytes()).write(to: URL(fileURLWithPath: deflated))
        XCTAssertEqual(try NpzImageSet.open(path: deflated, schema: schema).train.all().inputs.data, loaded.train.inputs.data)
    }

    func testCalibrationPositionsAreBoundedAndSpread() {
        XCTAssertEqual(ImageSite.calibrationPositions(count: 5, limit: 10), [0, 1, 2, 3, 4])
        let spread = ImageSite.calibrationPositions(count: 50_000, limit: 1024)
        XCTAssertEqual(spread.count, 1024)
        XCTAssertEqual(Set(spread).count, 1024)
        XCTAssertGreaterThan(spread.last!, 49_000)
        XCTAssertTrue(ImageSite.calibrationPositions(count: 0).isEmpty)
    }
}
