import CohortData
import Foundation
import XCTest

final class NumpyArchiveTests: XCTestCase {
    private var dir = ""
    override func setUp() { dir = temporaryDirectory() }
    override func tearDown() { removeDirectory(dir) }

    private func file(_ bytes: [UInt8], _ name: String = "a.npz") -> String {
        let path = dir + "/" + name
        writeBytes(bytes, to: path)
        return path
    }

    private var stored: [UInt8] { [UInt8](Data(base64Encoded: NumpyFixtures.storedArchive)!) }
    private var deflated: [UInt8] { [UInt8](Data(base64Encoded: NumpyFixtures.deflatedArchive)!) }

    /// `.npy` bytes of a float32 array, as the writer makes them.
    private func npy(_ values: [Float], _ shape: [Int]) -> [UInt8] { try! NumpyFile.encode(values: values, shape: shape) }

    /// numpy.savez (stored, ZIP64 local headers) and numpy.savez_compressed (deflated) archives
    /// of MedMNIST-like uint8 arrays read back exactly, by key, by entry name and first.
    func testNumpyWrittenArchivesReadExactly() throws {
        for (kind, bytes) in [("stored", stored), ("deflated", deflated)] {
            let archive = try NumpyArchive(path: file(bytes, kind + ".npz"))
            XCTAssertEqual(archive.keys, ["train_images", "train_labels", "rgb"], kind)
            let images = try archive.read(key: "train_images")
            XCTAssertEqual(images.shape, [4, 5, 5], kind)
            XCTAssertEqual(images.values, NumpyFixtures.trainImages, kind)
            XCTAssertEqual(images.dtype.description, "|u1", kind)
            let labels = try archive.read(key: "train_labels.npy")
            XCTAssertEqual(labels.shape, [4, 1], kind)
            XCTAssertEqual(labels.values, NumpyFixtures.trainLabels, kind)
            let rgb = try archive.read(key: "rgb")
            XCTAssertEqual(rgb.shape, [2, 3, 3, 3], kind)
            XCTAssertEqual(rgb.values, NumpyFixtures.rgb, kind)
            XCTAssertEqual(try archive.readFirst(), images, kind)
            let missing = errorMessage { _ = try archive.read(key: "val_images") }
            XCTAssertTrue(missing.contains("no array 'val_images'") && missing.contains("train_images, train_labels, rgb"), missing)
        }
        // The fixtures really are one stored and one deflated archive.
        XCTAssertEqual(stored[8], 0)
        XCTAssertEqual(deflated[8], 8)
    }

    func testBuiltArchivesStoredDeflatedAndZip64() throws {
        let a = npy([1, 2, 3, 4, 5, 6], [2, 3]), b = npy((0..<300).map { Float($0 % 7) }, [300])
        for deflate in [false, true] {
            for zip64 in [false, true] {
                var builder = ZipBuilder.npz([("a", a), ("b", b)], deflate: deflate)
                builder.zip64 = zip64
                builder.comment = Array("made by a test".utf8)
                let archive = try NumpyArchive(path: file(builder.bytes()))
                XCTAssertEqual(archive.keys, ["a", "b"])
                XCTAssertEqual(try archive.read(key: "a").values, [1, 2, 3, 4, 5, 6], "deflate \(deflate) zip64 \(zip64)")
                XCTAssertEqual(try archive.read(key: "b").values, (0..<300).map { Float($0 % 7) }, "deflate \(deflate) zip64 \(zip64)")
            }
        }
    }

    /// An entry larger than the reader's 64 KiB input pieces and 1 MiB conversion chunks.
    func testLargeDeflatedEntrySpansManyReads() throws {
        var state: UInt32 = 1
        let values = (0..<300_000).map { _ -> Float in state = state &* 1_664_525 &+ 1_013_904_223; return Float(state >> 8) }
        let bytes = ZipBuilder.npz([("big", npy(values, [3000, 100]))], deflate: true).bytes()
        XCTAssertGreaterThan(bytes.count, 3 << 16)
        let array = try NumpyArchive(path: file(bytes)).read(key: "big")
        XCTAssertEqual(array.shape, [3000, 100])
        XCTAssertEqual(array.values, values)
    }

    func testEmptyArchiveAndNonArrayEntries() throws {
        let empty = try NumpyArchive(path: file(ZipBuilder([]).bytes()))
        XCTAssertEqual(empty.keys, [])
        XCTAssertTrue(errorMessage { _ = try empty.readFirst() }.contains("holds no arrays"))
        let mixed = try NumpyArchive(path: file(ZipBuilder([.init(name: "notes.txt", data: Array("hello world".utf8))]).bytes(), "m.npz"))
        XCTAssertEqual(mixed.keys, ["notes.txt"])
        XCTAssertTrue(errorMessage { _ = try mixed.read(key: "notes.txt") }.contains("entry 'notes.txt': not a NumPy .npy array"))
    }

    /// Every cut of a real archive is an error, never a crash.
    func testEveryTruncationIsAnError() {
        for (kind, full) in [("stored", stored), ("deflated", deflated)] {
            for length in stride(from: 0, to: full.count, by: 1) {
                let path = file(Array(full[..<length]), "t.npz")
                let message = errorMessage {
                    let archive = try NumpyArchive(path: path)
                    for key in archive.keys { _ = try archive.read(key: key) }
                }
                XCTAssertNotEqual(message, "ok", "\(kind) cut at \(length)")
                XCTAssertTrue(message.hasPrefix(path + ": "), "\(kind) cut at \(length): \(message)")
            }
        }
    }

    /// Any single flipped byte of the deflated archive either still reads the same values or
    /// fails with an error (CRC-32, deflate or structure), never traps or returns other data.
    func testFlippedBytesAreCaught() throws {
        let full = deflated
        for i in 0..<full.count {
            var bytes = full
            bytes[i] ^= 0x5A
            let path = file(bytes, "f.npz")
            do {
                let archive = try NumpyArchive(path: path)
                let images = try archive.read(key: archive.keys.first ?? "")
                XCTAssertEqual(images.values, NumpyFixtures.trainImages, "flip at \(i) returned other values")
            } catch {
                XCTAssertTrue("\(error)".hasPrefix(path + ": "), "flip at \(i): \(error)")
            }
        }
    }

    func testHostileDirectoriesGiveClearErrors() throws {
        let a = npy([1, 2, 3], [3])
        func build(_ change: (inout ZipBuilder) -> Void) -> [UInt8] {
            var b = ZipBuilder.npz([("a", a)])
            change(&b)
            return b.bytes()
        }
        var zip64Past = ZipBuilder.npz([("a", a)])
        zip64Past.zip64 = true
        var zip64Bytes = zip64Past.bytes()
        // Point the ZIP64 locator at an offset past the end of the file.
        let locatorAt = zip64Bytes.count - 22 - 20
        for k in 0..<8 { zip64Bytes[locatorAt + 8 + k] = k == 7 ? 0x7F : 0xFF }
        let cases: [(bytes: [UInt8], expected: String)] = [
            (Array("PK not really".utf8), "not a ZIP archive"),
            ([], "not a ZIP archive"),
            (build { $0.directoryOffset = 1 << 31 }, "bytes at offset 2147483648) does not fit"),
            (build { $0.directorySize = 1 << 20 }, "does not fit before its end record"),
            (build { $0.entryCount = 3 }, "3 entries cannot fit in a central directory of"),
            (build { $0.entryCount = 0xFFFF }, "65535 entries cannot fit"),
            (zip64Bytes, "ZIP64 end record offset"),
        ]
        for (i, c) in cases.enumerated() {
            let path = file(c.bytes, "d\(i).npz")
            let message = errorMessage { _ = try NumpyArchive(path: path) }
            XCTAssertTrue(message.hasPrefix(path + ": ") && message.contains(c.expected), "case \(i): \(message)")
        }
    }

    func testHostileEntriesGiveClearErrors() throws {
        let a = npy([1, 2, 3], [3])
        let big = npy([Float](repeating: 0, count: 4096), [4096])
        func entry(_ change: (inout ZipBuilder.Entry) -> Void, data: [UInt8]? = nil, deflate: Bool = false, zip64: Bool = false) -> [UInt8] {
            var e = ZipBuilder.Entry(name: "a.npy", data: data ?? a, deflate: deflate)
            change(&e)
            var builder = ZipBuilder([e])
            builder.zip64 = zip64
            return builder.bytes()
        }
        var corrupt = rawDeflate(big)
        corrupt[0] ^= 0xFF
        let cases: [(bytes: [UInt8], expected: String)] = [
            (entry({ $0.localOffset = 1 << 40 }, zip64: true), "local header offset 1099511627776 does not lie before the central directory"),
            (entry { $0.localOffset = 0xFFFF_FFF0 }, "local header offset 4294967280 does not lie before the central directory"),
            (entry { $0.localOffset = 3 }, "no local header signature at offset 3"),
            (entry { $0.localName = "b.npy" }, "the local header at offset 0 names 'b.npy' instead"),
            (entry { $0.compressedSize = 1 << 20; $0.uncompressedSize = 1 << 20 }, "run past the central directory"),
            (entry { $0.uncompressedSize = 12 }, "stored entry has compressed size"),
            (entry { $0.method = 12 }, "compression method 12 is not supported"),
            (entry { $0.flags = 1 }, "encrypted entries are not supported"),
            (entry { $0.crc = 0x1234_5678 }, "CRC-32 mismatch (stored 0x12345678"),
            (entry({ $0.crc = 0x1234_5678 }, deflate: true), "CRC-32 mismatch"),
            // A tiny deflate stream claiming gigabytes: refused before inflating or allocating.
            (entry({ $0.uncompressedSize = 1 << 40 }, data: big, deflate: true, zip64: true), "more than deflate can produce"),
            // Declared size larger than the stream inflates to.
            (entry({ $0.uncompressedSize = big.count + 400 }, data: big, deflate: true), "unexpected bytes after the array data"),
            // Declared size smaller than the stream inflates to: the npy header then says more data than remain.
            (entry({ $0.uncompressedSize = big.count - 4 }, data: big, deflate: true), "truncated: data"),
            (entry({ $0.payload = corrupt }, data: big, deflate: true), "corrupt deflate data"),
            (entry({ $0.payload = Array(rawDeflate(big).prefix(20)) }, data: big, deflate: true), "entry 'a.npy'"),
        ]
        for (i, c) in cases.enumerated() {
            let path = file(c.bytes, "e\(i).npz")
            let message = errorMessage { _ = try NumpyArchive(path: path).read(key: "a") }
            XCTAssertTrue(message.hasPrefix(path + ": ") && message.contains(c.expected), "case \(i): \(message)")
        }
        // Two entries of one name are refused when the archive is opened.
        let twice = ZipBuilder.npz([("a", a), ("a", a)]).bytes()
        XCTAssertTrue(errorMessage { _ = try NumpyArchive(path: self.file(twice, "twice.npz")) }.contains("entry name 'a.npy' appears twice"))
    }

    /// A deflate stream that inflates to more bytes than the entry declares is refused at its end.
    func testStreamLongerThanDeclaredIsRefused() throws {
        let a = npy([1, 2, 3], [3])
        // The npy inside is exact, but the stream carries extra bytes after it.
        let padded = a + [UInt8](repeating: 7, count: 50)
        let e = ZipBuilder.Entry(name: "a.npy", data: a, deflate: true, crc: crc32Of(a), payload: rawDeflate(padded))
        let path = file(ZipBuilder([e]).bytes())
        let message = errorMessage { _ = try NumpyArchive(path: path).read(key: "a") }
        XCTAssertTrue(message.contains("inflate to more than the \(a.count) bytes the entry declares"), message)
    }
}
