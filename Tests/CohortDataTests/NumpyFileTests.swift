import CohortData
import Foundation
import XCTest

final class NumpyFileTests: XCTestCase {
    private var dir = ""
    override func setUp() { dir = temporaryDirectory() }
    override func tearDown() { removeDirectory(dir) }

    private func fixture(_ name: String) -> [UInt8] {
        [UInt8](Data(base64Encoded: NumpyFixtures.cases.first { $0.name == name }!.base64)!)
    }

    private func file(_ bytes: [UInt8], _ name: String = "a.npy") -> String {
        let path = dir + "/" + name
        writeBytes(bytes, to: path)
        return path
    }

    /// Every dtype NumPy wrote (both byte orders where they exist) reads as NumPy's own float32 conversion.
    func testEveryDtypeReadsAsNumpyConvertsIt() throws {
        let dtypeCases = NumpyFixtures.cases.filter { $0.name.hasPrefix("dtype_") }
        XCTAssertEqual(dtypeCases.count, 18)
        for c in dtypeCases {
            let array = try NumpyFile.read(path: file([UInt8](Data(base64Encoded: c.base64)!)))
            XCTAssertEqual(array.shape, c.shape, c.name)
            XCTAssertEqual(array.values.map(\.bitPattern), c.bits, c.name)
            XCTAssertEqual(array.dtype.description, c.descr, c.name)
        }
    }

    func testVersion2And3HeadersScalarVectorAndEmpty() throws {
        for name in ["version2", "version3", "scalar", "vector", "empty"] {
            let c = NumpyFixtures.cases.first { $0.name == name }!
            let array = try NumpyFile.read(path: file(fixture(name)))
            XCTAssertEqual(array.shape, c.shape, name)
            XCTAssertEqual(array.values.map(\.bitPattern), c.bits, name)
        }
        XCTAssertEqual(fixture("version2")[6], 2)
        XCTAssertEqual(fixture("version3")[6], 3)
    }

    /// The writer produces exactly the bytes `numpy.save` writes for the same float32 array.
    func testWriterMatchesNumpySaveByteForByte() throws {
        let expected: [(String, [Float], [Int])] = [
            (NumpyFixtures.saved2x3, [1.5, -2.25, 3.0, 0.0, 1e-3, -7.0], [2, 3]),
            (NumpyFixtures.saved3, [1, 2, 3], [3]),
            (NumpyFixtures.savedScalar, [4.5], []),
        ]
        for (b64, values, shape) in expected {
            let numpyBytes = [UInt8](Data(base64Encoded: b64)!)
            XCTAssertEqual(try NumpyFile.encode(values: values, shape: shape), numpyBytes, "\(shape)")
            let path = dir + "/w.npy"
            try NumpyFile.write(values: values, shape: shape, to: path)
            XCTAssertEqual(readBytes(path), numpyBytes, "\(shape)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["w.npy"], "no temporary file left")
    }

    func testRoundTripIsBitExactForAwkwardValues() throws {
        let values: [Float] = [-0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .nan, -.infinity, 1e-30, 0.1, 12345.678]
        let path = dir + "/r.npy"
        try NumpyFile.write(values: values, shape: [2, 2, 2], to: path)
        let back = try NumpyFile.read(path: path)
        XCTAssertEqual(back.shape, [2, 2, 2])
        XCTAssertEqual(back.values.map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(back.dtype, .float32)
        XCTAssertEqual(readBytes(path).count % 64, (8 * 4) % 64, "data start 64-byte aligned")
        try NumpyFile.write(values: [], shape: [0, 5], to: path)
        XCTAssertEqual(try NumpyFile.read(path: path).shape, [0, 5])
    }

    func testWriterRefusesValuesThatDoNotFitTheShape() {
        XCTAssertTrue(errorMessage { try NumpyFile.write(values: [1, 2, 3], shape: [2, 2], to: self.dir + "/x.npy") }.contains("cannot write 3 values with shape [2, 2]"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.npy"))
    }

    func testUnsupportedLayoutsAndDtypesAreRefusedClearly() {
        XCTAssertTrue(errorMessage { _ = try NumpyFile.read(path: self.file(self.fixture("fortran"))) }.contains("Fortran-order arrays are not supported"))
        XCTAssertTrue(errorMessage { _ = try NumpyFile.read(path: self.file(self.fixture("complex"))) }.contains("unsupported dtype '<c8'"))
        XCTAssertTrue(errorMessage { _ = try NumpyFile.read(path: self.file(self.fixture("structured"))) }.contains("structured dtypes"))
        for descr in ["<U3", "|O", "<M8[s]", "|u2", "<b2", "<f16", "f4", "<f3"] {
            let bytes = craftNpy("{'descr': '\(descr)', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0])
            XCTAssertTrue(errorMessage { _ = try NumpyFile.read(path: self.file(bytes)) }.contains("unsupported dtype '\(descr)'"), descr)
        }
    }

    /// Every cut of a valid file is an error naming the file, never a crash or a short array.
    func testEveryTruncationIsAnError() {
        let full = fixture("dtype_le_f8")
        for length in 0..<full.count {
            let path = file(Array(full[..<length]), "t.npy")
            let message = errorMessage { _ = try NumpyFile.read(path: path) }
            XCTAssertTrue(message.hasPrefix(path + ": "), "\(length): \(message)")
            XCTAssertTrue(message.contains("truncated") || message.contains("magic") || message.contains("header"), "\(length): \(message)")
        }
    }

    func testHostileHeadersGiveClearErrors() {
        let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
        let cases: [(bytes: [UInt8], expected: String)] = [
            (craftNpy(good, data: [UInt8](repeating: 0, count: 8), magic: Array("\u{93}NUMPX".utf8)), "not a NumPy .npy array"),
            (craftNpy(good, data: [UInt8](repeating: 0, count: 8), version: (4, 0)), "unsupported .npy format version 4.0"),
            (craftNpy(good, data: [UInt8](repeating: 0, count: 8), version: (1, 1)), "unsupported .npy format version 1.1"),
            // Header length far past the end of the file.
            ([0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0xFF] + Array("{}".utf8), "truncated: header (65535 bytes)"),
            ([0x93] + Array("NUMPY".utf8) + [2, 0, 0xFF, 0xFF, 0xFF, 0x7F] + Array("{}".utf8), "more than the 1048576 allowed"),
            (craftNpy("{'descr': '<f4', 'fortran_order': False}", data: []), "missing key 'shape'"),
            (craftNpy("{'descr': '<f4', 'shape': (1,)}", data: [0, 0, 0, 0]), "missing key 'fortran_order'"),
            (craftNpy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"), "key 'descr' appears twice"),
            (craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}"), "unexpected key 'x'"),
            (craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1)}"), "is not a tuple"),
            (craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), "expected a non-negative integer"),
            (craftNpy("{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}"), "expected True or False"),
            (craftNpy("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}"), "header at offset 10"),
            (craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} + 1"), "unexpected text after the closing '}'"),
            (craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"), "dimension too large"),
            (craftNpy("__import__('os')"), "expected '{'"),
            // The element count overflows Int.
            (craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"), "the product overflows"),
            // Fits in Int, but far more than allowed: refused before allocating.
            (craftNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776, 1024), }"), "more than the 1073741824 allowed"),
            // Fewer data bytes than the shape needs.
            (craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", data: [0, 0, 0, 0]), "truncated: data ([3] of <f4) needs 12 bytes"),
            (craftNpy(good, data: [UInt8](repeating: 0, count: 9)), "1 unexpected bytes after the array data"),
        ]
        for (i, c) in cases.enumerated() {
            let path = file(c.bytes, "h\(i).npy")
            let message = errorMessage { _ = try NumpyFile.read(path: path) }
            XCTAssertTrue(message.hasPrefix(path + ": ") && message.contains(c.expected), "case \(i): \(message)")
        }
    }

    func testElementBytesOverflowIsCaughtWithoutACap() {
        // 2^61 float64 elements: the count fits, count × 8 does not.
        let path = file(craftNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }"))
        let message = errorMessage { _ = try NumpyFile.read(path: path, maxValues: .max) }
        XCTAssertTrue(message.contains("truncated: data") && message.contains("more than"), message)
    }

    func testHeaderGrammarAcceptsNumpysVariants() throws {
        // Double quotes, no trailing comma, other key order, legacy 'L' suffixes, extra spaces.
        let header = "{ \"shape\" : ( 2L , 1L ) , \"fortran_order\": False, \"descr\": \"<i2\" }"
        let array = try NumpyFile.read(path: file(craftNpy(header, data: [1, 0, 0xFE, 0xFF])))
        XCTAssertEqual(array.shape, [2, 1])
        XCTAssertEqual(array.values, [1, -2])
    }

    func testMissingFileIsAnError() {
        XCTAssertTrue(errorMessage { _ = try NumpyFile.read(path: self.dir + "/none.npy") }.contains("cannot open"))
        XCTAssertTrue(errorMessage { _ = try NumpyFile.read(path: self.dir) }.contains("not a regular file"))
    }
}
