import CohortData
import CohortNN
import CohortTensor
import Foundation
import XCTest

final class TensorFileTests: XCTestCase {
    private var dir = ""
    override func setUp() { dir = temporaryDirectory() }
    override func tearDown() { removeDirectory(dir) }

    /// 4 labelled and 3 unlabelled 2×3×4 images with awkward values (−0, subnormal, extremes).
    private func imageSet() -> SiteData {
        let f = 24
        var rng = SeededRandom(seed: 3)
        var values = (0..<(7 * f)).map { _ in rng.normal() }
        values[0] = -0.0; values[1] = Float.leastNonzeroMagnitude; values[2] = Float.greatestFiniteMagnitude; values[3] = -1e-30
        let labelled = LabelledData(inputs: Tensor(shape: [4, f], data: Array(values[..<(4 * f)])), labels: [2, 0, 1, 2])
        return SiteData(labelled: labelled, unlabelled: Tensor(shape: [3, f], data: Array(values[(4 * f)...])), sampleShape: [2, 3, 4],
                        classes: 3, classNames: ["normal", "benign", "malignant"])
    }

    func testRoundTripIsBitExactIncludingUnlabelledRows() throws {
        let set = imageSet()
        let path = dir + "/a.ctf"
        try TensorFile.write(set, to: path, meta: ["site": "hospital-1"])
        let back = try TensorFile.read(path: path)
        XCTAssertEqual(back.labelled.inputs.shape, [4, 24])
        XCTAssertEqual(back.labelled.inputs.data.map(\.bitPattern), set.labelled.inputs.data.map(\.bitPattern))
        XCTAssertEqual(back.labelled.labels, [2, 0, 1, 2])
        XCTAssertEqual(back.unlabelled.shape, [3, 24])
        XCTAssertEqual(back.unlabelled.data.map(\.bitPattern), set.unlabelled.data.map(\.bitPattern))
        XCTAssertEqual(back.sampleShape, [2, 3, 4])
        XCTAssertEqual(back.classes, 3)
        XCTAssertEqual(back.classNames, ["normal", "benign", "malignant"])
        let header = try TensorFile.readHeader(path: path)
        XCTAssertEqual(header.shape, [7, 2, 3, 4])
        XCTAssertEqual(header.layout, "NCHW")
        XCTAssertEqual(header.meta, ["site": "hospital-1"])
        // The bytes are the layout of the spec: labels after the values, −1 for unlabelled rows, CRC last.
        let bytes = readBytes(path)
        XCTAssertEqual(Array(bytes[0..<4]), Array("CTNS".utf8))
        let h = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        XCTAssertEqual((12 + h) % 4, 0, "values start 4-byte aligned")
        XCTAssertEqual(bytes.count, 12 + h + 7 * 24 * 4 + 7 * 4 + 4)
        let labelsAt = 12 + h + 7 * 24 * 4
        let labels = (0..<7).map { i in Int32(bitPattern: UInt32(bytes[labelsAt + 4 * i]) | UInt32(bytes[labelsAt + 4 * i + 1]) << 8
                                                 | UInt32(bytes[labelsAt + 4 * i + 2]) << 16 | UInt32(bytes[labelsAt + 4 * i + 3]) << 24) }
        XCTAssertEqual(labels, [2, 0, 1, 2, -1, -1, -1])
        let crc = UInt32(bytes[bytes.count - 4]) | UInt32(bytes[bytes.count - 3]) << 8 | UInt32(bytes[bytes.count - 2]) << 16 | UInt32(bytes[bytes.count - 1]) << 24
        XCTAssertEqual(crc, referenceCRC32(Array(bytes.dropLast(4))))
        // No temporary file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.ctf"])
    }

    func testTabularRoundTripKeepsFeatureNames() throws {
        let set = SiteData(labelled: LabelledData(inputs: Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]), labels: [1, 0]),
                           sampleShape: [3], classes: 2, featureNames: ["age", "sex", "crp"])
        try TensorFile.write(set, to: dir + "/t.ctf")
        let back = try SiteData.load(path: dir + "/t.ctf")
        XCTAssertEqual(back.featureNames, ["age", "sex", "crp"])
        XCTAssertEqual(back.labelled.inputs, set.labelled.inputs)
        XCTAssertEqual(back.unlabelled.shape, [0, 3])
        XCTAssertEqual(try TensorFile.readHeader(path: dir + "/t.ctf").layout, "NF")
    }

    func testTruncatedFilesNameTheCutField() throws {
        let path = dir + "/a.ctf"
        try TensorFile.write(imageSet(), to: path)
        let bytes = readBytes(path)
        let h = Int(bytes[8]) | Int(bytes[9]) << 8
        let valuesAt = 12 + h, labelsAt = valuesAt + 7 * 24 * 4, checksumAt = labelsAt + 28
        let cuts: [(Int, String)] = [
            (0, "truncated: magic needs 4 bytes at offset 0, but the file ends at 0"),
            (2, "truncated: magic needs 4 bytes at offset 0, but the file ends at 2"),
            (6, "truncated: format version needs 4 bytes at offset 4, but the file ends at 6"),
            (10, "truncated: header length needs 4 bytes at offset 8, but the file ends at 10"),
            (12 + h / 2, "truncated: header (\(h) bytes) needs \(h) bytes at offset 12, but the file ends at \(12 + h / 2)"),
            (valuesAt + 5, "truncated: values (7 × 24 float32) needs 672 bytes at offset \(valuesAt), but the file ends at \(valuesAt + 5)"),
            (labelsAt + 2, "truncated: labels (7 int32) needs 28 bytes at offset \(labelsAt), but the file ends at \(labelsAt + 2)"),
            (checksumAt + 3, "truncated: checksum (u32) needs 4 bytes at offset \(checksumAt), but the file ends at \(checksumAt + 3)"),
        ]
        for (cut, expected) in cuts {
            let p = dir + "/cut-\(cut).ctf"
            writeBytes(Array(bytes[..<cut]), to: p)
            XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: p) }, "\(p): \(expected)")
        }
        let longer = dir + "/longer.ctf"
        writeBytes(bytes + [0, 0], to: longer)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: longer) },
                       "\(longer): 2 unexpected bytes after the checksum at offset \(checksumAt + 4)")
    }

    func testFlippedByteIsAChecksumMismatch() throws {
        let path = dir + "/a.ctf"
        try TensorFile.write(imageSet(), to: path)
        let bytes = readBytes(path)
        let h = Int(bytes[8]) | Int(bytes[9]) << 8
        let checksumAt = bytes.count - 4
        for position in [12 + h + 41, 12 + h + 7 * 24 * 4 + 1, checksumAt + 2] {
            var flipped = bytes
            flipped[position] ^= 0x10
            let p = dir + "/flip-\(position).ctf"
            writeBytes(flipped, to: p)
            let message = errorMessage { _ = try TensorFile.read(path: p) }
            XCTAssertTrue(message.hasPrefix("\(p): checksum mismatch at offset \(checksumAt) (stored 0x"), message)
            XCTAssertTrue(message.hasSuffix("the file is corrupted"), message)
        }
    }

    func testWrongMagicAndNewerVersion() throws {
        let header = #"{"shape":[1,2],"layout":"NF","dtype":"float32","classes":2}"#
        let wrong = dir + "/wrong.ctf", newer = dir + "/newer.ctf", zero = dir + "/zero.ctf"
        writeBytes(craftTensorFile(header: header, values: [1, 2], labels: [0], magic: "PK\u{3}\u{4}"), to: wrong)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: wrong) },
                       "\(wrong): not a Cohort tensor file (magic at offset 0 is 'PK..', expected 'CTNS')")
        writeBytes(craftTensorFile(header: header, values: [1, 2], labels: [0], version: 2), to: newer)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: newer) }, "\(newer): format version 2 at offset 4 is newer than this reader's 1")
        writeBytes(craftTensorFile(header: header, values: [1, 2], labels: [0], version: 0), to: zero)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: zero) }, "\(zero): unsupported format version 0 at offset 4")
        // The crafted file is otherwise valid.
        let good = dir + "/good.ctf"
        writeBytes(craftTensorFile(header: header, values: [1, 2], labels: [0]), to: good)
        XCTAssertEqual(try TensorFile.read(path: good).labelled.inputs.data, [1, 2])
    }

    func testHugeSampleCountInATinyFileFailsBeforeAllocating() throws {
        let path = dir + "/huge.ctf"
        // Two billion 1024×1024 images would be 8 EB: the reader must refuse from the header alone.
        writeBytes(craftTensorFile(header: #"{"shape":[2000000000,1,1024,1024],"layout":"NCHW","dtype":"float32","classes":3}"#,
                                   values: [1, 2, 3], labels: []), to: path)
        let start = ContinuousClock.now
        let message = errorMessage { _ = try TensorFile.read(path: path) }
        XCTAssertLessThan(ContinuousClock.now - start, .milliseconds(500))
        XCTAssertTrue(message.hasPrefix("\(path): truncated: values (2000000000 × 1048576 float32) needs 8388608000000000 bytes at offset "), message)
        // Header length beyond the limit, and beyond the file.
        var bytes = Array("CTNS".utf8); bytes.appendLE(UInt32(1)); bytes.appendLE(UInt32(0xFFFF_FFF0))
        writeBytes(bytes, to: path)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: path) }, "\(path): header length 4294967280 at offset 8 is outside 2…1048576")
        bytes = Array("CTNS".utf8); bytes.appendLE(UInt32(1)); bytes.appendLE(UInt32(1000)); bytes += [0x7B]
        writeBytes(bytes, to: path)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: path) },
                       "\(path): truncated: header (1000 bytes) needs 1000 bytes at offset 12, but the file ends at 13")
    }

    func testHeaderRulesAreChecked() throws {
        let path = dir + "/h.ctf"
        func message(_ header: String) -> String {
            writeBytes(craftTensorFile(header: header, values: [], labels: []), to: path)
            return errorMessage { _ = try TensorFile.read(path: path) }.replacingOccurrences(of: path + ": ", with: "")
        }
        XCTAssertEqual(message(#"{"shape":[0,2],"layout":"NF","dtype":"float16","classes":2}"#),
                       "header at offset 12: field 'dtype' is 'float16', only 'float32' is supported")
        XCTAssertEqual(message(#"{"shape":[0,2],"layout":"NCHW","dtype":"float32","classes":2}"#),
                       "header at offset 12: field 'shape' [0, 2] has rank 2, layout 'NCHW' needs rank 4")
        XCTAssertEqual(message(#"{"shape":[0,0],"layout":"NF","dtype":"float32","classes":2}"#),
                       "header at offset 12: field 'shape' [0, 0] has a sample dimension outside 1…67108864")
        XCTAssertEqual(message(#"{"shape":[0,2],"layout":"NF","dtype":"float32","classes":0}"#),
                       "header at offset 12: field 'classes' is 0, outside 1…65536")
        XCTAssertEqual(message(#"{"shape":[0,2],"layout":"NF","dtype":"float32","classes":2,"classNames":["a"]}"#),
                       "header at offset 12: field 'classNames' has 1 names for 2 classes")
        XCTAssertEqual(message(#"{"shape":[0,2],"layout":"NF","dtype":"float32"}"#),
                       "header at offset 12 is not a valid tensor-file header: missing field 'classes'")
        XCTAssertEqual(message(#"{"shape":[0,2],"#), "header at offset 12 is not a valid tensor-file header: not valid JSON")
        // An empty file of zero samples is valid.
        XCTAssertEqual(message(#"{"shape":[0,2],"layout":"NF","dtype":"float32","classes":2}"#), "ok")
    }

    func testNonFiniteValueAndBadLabelNameTheRow() throws {
        let header = #"{"shape":[3,2],"layout":"NF","dtype":"float32","classes":3}"#
        let nan = dir + "/nan.ctf", inf = dir + "/inf.ctf", label = dir + "/label.ctf", minus2 = dir + "/minus2.ctf"
        let h = header.utf8.count
        writeBytes(craftTensorFile(header: header, values: [1, 2, 3, 4, 5, .nan], labels: [0, 1, 2]), to: nan)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: nan) },
                       "\(nan): row 2, value 1 (offset \(12 + h + 20)) is nan; values must be finite")
        writeBytes(craftTensorFile(header: header, values: [1, .infinity, 3, 4, 5, 6], labels: [0, 1, 2]), to: inf)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: inf) },
                       "\(inf): row 0, value 1 (offset \(12 + h + 4)) is inf; values must be finite")
        writeBytes(craftTensorFile(header: header, values: [1, 2, 3, 4, 5, 6], labels: [0, 3, 2]), to: label)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: label) },
                       "\(label): label 3 of row 1 (offset \(12 + h + 24 + 4)) is outside -1..<3")
        writeBytes(craftTensorFile(header: header, values: [1, 2, 3, 4, 5, 6], labels: [0, 1, -2]), to: minus2)
        XCTAssertEqual(errorMessage { _ = try TensorFile.read(path: minus2) },
                       "\(minus2): label -2 of row 2 (offset \(12 + h + 24 + 8)) is outside -1..<3")
    }

    func testWriterRefusesNonFiniteValuesAndKeepsTheOldFile() throws {
        let path = dir + "/a.ctf"
        try TensorFile.write(imageSet(), to: path)
        let before = readBytes(path)
        var bad = imageSet()
        bad.unlabelled.data[24 + 5] = .nan
        XCTAssertEqual(errorMessage { try TensorFile.write(bad, to: path) }, "\(path): unlabelled row 1, value 5 is nan; values must be finite")
        XCTAssertEqual(readBytes(path), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.ctf"])
    }
}
