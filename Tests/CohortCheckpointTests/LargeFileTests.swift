import XCTest
@testable import CohortCheckpoint
import CohortTensor
import Foundation

/// Large payloads: the two-thread checked read, CRC-32C combination, and size arithmetic past
/// 2 GiB and 4 GiB (checkpoint files, safetensors, delta records).
///
/// Tests that need more than 2 GB of memory (real > 4 GiB round trips) run only with
/// `COHORT_BIG_TESTS=1` (and should be run alone, under /tmp/cohort-bigmem.lock); the others
/// check the same 64-bit length paths with synthetic headers and no large allocation.
final class LargeFileTests: XCTestCase {
    static var bigTests: Bool { ProcessInfo.processInfo.environment["COHORT_BIG_TESTS"] == "1" }

    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    private func crc(_ data: Data) -> UInt32 { data.withUnsafeBytes { FileChecksum.crc32c($0) } }

    // MARK: CRC-32C combination

    func testCombinedCRCEqualsTheCRCOfTheWholeStream() {
        var rng = SeededRandom(seed: 5)
        let all = Data((0..<(3 * 8192 * 2 + 77)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        for split in [0, 1, 7, 8192, 3 * 8192 + 1, all.count - 1, all.count] {
            let a = all.prefix(split), b = all.suffix(from: split)
            let checksum = FileChecksum(.crc32c)
            a.withUnsafeBytes { checksum.update($0) }
            checksum.append(crc: crc(Data(b)), length: b.count)
            XCTAssertEqual(checksum.finish(), crc(all).littleEndianBytes, "split at \(split)")
        }
        XCTAssertEqual(CheckpointFileTests.referenceCRC32C(all), crc(all))
    }

    func testCombinationLengthIsNotCutTo32Bits() {
        // Shifting a CRC over n zero bytes then m more equals shifting over n + m: checked with
        // n past 2^32, so a length truncated to 32 bits anywhere on the path would disagree.
        let a: UInt32 = 0x1234_5678
        let big = (UInt64(1) << 32) + 12_345
        let once = FileChecksum(.crc32c), twice = FileChecksum(.crc32c)
        Data([1, 2, 3]).withUnsafeBytes { once.update($0); twice.update($0) }
        once.append(crc: a, length: Int(big))
        twice.append(crc: 0, length: Int(big - 1000))
        twice.append(crc: a, length: 1000)
        XCTAssertEqual(once.finish(), twice.finish())
        let short = FileChecksum(.crc32c)
        Data([1, 2, 3]).withUnsafeBytes { short.update($0) }
        short.append(crc: a, length: 12_345)
        XCTAssertNotEqual(short.finish(), once.finish(), "the 2^32 part of the length must count")
    }

    // MARK: the two-thread checked read

    private func largeCheckpoint(_ dir: TemporaryDirectory) throws -> (path: String, weights: [Float]) {
        let count = 3_000_001   // 12 MB: over the parallel threshold; odd, so the halves differ
        XCTAssertGreaterThan(count * 4, BinaryFileReader.parallelThreshold)
        var rng = SeededRandom(seed: 9)
        let weights = rng.uniformArray(count: count, -1, 1)
        let path = dir.path("large.ckpt")
        try CheckpointFile.save(Checkpoint(architecture: nil, metadata: CheckpointMetadata(source: "t"), tensors: [
            ("a", Tensor(shape: [3], data: [1, 2, 3])), ("w", Tensor(shape: [count], data: weights)),
            ("h", Tensor(shape: [5], data: [0.5, -1, 2, 4, 8])),
        ]), to: path, options: .init(storage: .float32))
        return (path, weights)
    }

    func testLargePayloadsReadOnTwoThreadsBitForBit() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let (path, weights) = try largeCheckpoint(dir)
        let loaded = try CheckpointFile.load(path)
        XCTAssertEqual(loaded.tensors.map(\.name), ["a", "w", "h"])
        XCTAssertEqual(loaded.tensors[1].value.data, weights)
        XCTAssertEqual(loaded.tensors[2].value.data, [0.5, -1, 2, 4, 8], "the record after the large one is read from the right offset")
        let file = try bytes(path)
        XCTAssertEqual(file.suffix(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }, crc(file.prefix(file.count - 4)))
    }

    func testDamageInEitherHalfOfALargePayloadIsCaught() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let (path, _) = try largeCheckpoint(dir)
        let good = try bytes(path)
        for position in [good.count / 4, good.count / 2 + 4099, good.count - 200] {
            var bad = good
            bad[position] ^= 0x04
            try bad.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try CheckpointFile.load(path), "flip at \(position)") { error in
                XCTAssertTrue("\(error)".contains("checksum mismatch"), "\(error)")
            }
        }
    }

    func testNaNInALargePayloadIsRefusedAfterTheChecksumPasses() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let (path, _) = try largeCheckpoint(dir)
        var file = try bytes(path)
        // A NaN in the second half, with the checksum made to match (a file written by a buggy tool).
        // The record of 'h' (2 + 1 + 3 + 8 + 8 + 8 + 20 bytes) and the CRC follow the payload of 'w'.
        let position = file.count - 4 - 50 - 400_000
        file.replaceSubrange(position..<(position + 4), with: Float.nan.bitPattern.littleEndianBytes)
        file.replaceSubrange((file.count - 4)..<file.count, with: crc(file.prefix(file.count - 4)).littleEndianBytes)
        try file.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try CheckpointFile.load(path)) { error in
            XCTAssertTrue("\(error)".contains("tensor 'w' holds NaN or infinity"), "\(error)")
        }
    }

    // MARK: sizes past 4 GiB without allocating them

    /// A checkpoint whose one record declares `elements` float32 values, with `payload` bytes
    /// of it present (then, unless `complete`, the file simply ends).
    private func checkpointHeader(elements: UInt64) throws -> Data {
        var out = Data("COHORTCK".utf8)
        out += UInt32(2).littleEndianBytes
        let json = Data(#"{"architecture":null,"metadata":{"created":"2026-01-01T00:00:00Z","source":"t","history":[],"metrics":{}},"tensorCount":1}"#.utf8)
        out += UInt32(json.count).littleEndianBytes
        out += json
        out += UInt16(1).littleEndianBytes + Array("w".utf8)
        out += [0, 0, 1]                         // float32, no compression, rank 1
        out += elements.littleEndianBytes        // dimension
        out += (elements * 4).littleEndianBytes  // raw size
        out += (elements * 4).littleEndianBytes  // stored size
        return out
    }

    func testACheckpointRecordPast4GiBIsMeasuredIn64Bits() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("huge.ckpt")
        let elements: UInt64 = 1_250_000_000   // 5,000,000,000 bytes: past 2^32
        var file = try checkpointHeader(elements: elements)
        file += [UInt8](repeating: 0, count: 64)
        try file.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try CheckpointFile.load(path)) { error in
            guard case let .truncated(_, _, needed, fileSize, what) = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(needed, 5_000_000_000)
            XCTAssertEqual(fileSize, file.count)
            XCTAssertEqual(what, "payload of 'w'")
        }
        // Declared sizes that disagree past 2^32 are caught, not wrapped.
        var wrong = try checkpointHeader(elements: elements)
        wrong.replaceSubrange((wrong.count - 16)..<(wrong.count - 8), with: (elements * 4 - (1 << 32)).littleEndianBytes)
        try wrong.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try CheckpointFile.load(path)) { error in
            XCTAssertTrue("\(error)".contains("raw size 705032704 does not match shape [1250000000] (5000000000 bytes)"), "\(error)")
        }
    }

    func testASafetensorsEntryPast4GiBIsMeasuredIn64Bits() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("huge.safetensors")
        let json = Data(#"{"w":{"dtype":"F32","shape":[1250000000],"data_offsets":[0,5000000000]}}"#.utf8)
        var file = Data(UInt64(json.count).littleEndianBytes) + json
        file += [UInt8](repeating: 0, count: 16)
        try file.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Safetensors.load(path)) { error in
            guard case let .truncated(_, _, needed, _, what) = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(needed, 5_000_000_000)
            XCTAssertEqual(what, "data of 'w'")
        }
        // A sparse file of the full declared size (no disk used) passes the size checks; reading
        // it needs 5 GB of memory, so that part runs only with COHORT_BIG_TESTS=1.
        let fd = open(path, O_WRONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(ftruncate(fd, off_t(8 + json.count) + 5_000_000_000), 0)
        close(fd)
        guard Self.bigTests else { return }
        let loaded = try Safetensors.load(path)
        XCTAssertEqual(loaded.tensors.count, 1)
        XCTAssertEqual(loaded.tensors[0].value.count, 1_250_000_000)
        XCTAssertEqual(loaded.tensors[0].value.data.last, 0)
    }

    func testADeltaRecordPast4GiBIsMeasuredIn64Bits() throws {
        // A dense float32 record of 1.2 × 10⁹ values: 4.8 GB of payload, past 2^32.
        var record = Data(UInt16(1).littleEndianBytes)
        record += Data("w".utf8)
        record.append(1)
        record += UInt32(1_200_000_000).littleEndianBytes
        record += [0, 0]                                   // float32, dense
        record += UInt32(0).littleEndianBytes               // block size
        record += UInt32(1_200_000_000).littleEndianBytes   // value count
        let header = try record.withUnsafeBytes { raw -> DeltaRecordHeader in
            var r = ByteReader(raw, reportedOrigin: 0, inBody: true)
            return try DeltaRecordHeader.parse(&r, expectedShapes: ["w": [1_200_000_000]], isDuplicate: { _ in false })
        }
        XCTAssertEqual(header.elements, 1_200_000_000)
        XCTAssertEqual(header.payloadBytes, 4_800_000_000)
        XCTAssertThrowsError(try record.withUnsafeBytes { raw in
            let r = ByteReader(raw, reportedOrigin: 0, inBody: true)
            try header.requirePayload(available: 1 << 32, reader: r)
        }) { error in
            XCTAssertTrue("\(error)".contains("needs 4800000000 bytes, only 4294967296 left"), "\(error)")
        }
        // The whole message: its body size is a u64 past 2^32; the decoder refuses it against its
        // budget or as truncated, before allocating anything.
        var message = Data("CDLT".utf8)
        message += UInt16(1).littleEndianBytes
        message += UInt16(0).littleEndianBytes
        message += UInt32(1).littleEndianBytes
        message += UInt64(UInt64(record.count) + 4_800_000_000).littleEndianBytes
        message += UInt64(UInt64(record.count) + 4_800_000_000).littleEndianBytes
        message += record + [UInt8](repeating: 0, count: 32)
        XCTAssertEqual(record.count, 18)
        for (budget, expected) in [(Int(1) << 33, "truncated: stored body needs 4800000018 bytes, only 50 left"),
                                   (1 << 20, "declared body size 4800000018 is over the budget of 1048576 bytes")] {
            XCTAssertThrowsError(try DeltaDecoder(expectedShapes: ["w": [1_200_000_000]], maxBytes: budget).decode(Array(message))) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    // MARK: real round trips past 4 GiB (COHORT_BIG_TESTS=1)

    /// 1.1 × 10⁹ float32 values (4.4 GB) with marks at the 2 GiB and 4 GiB byte boundaries.
    private func bigWeights() -> [Float] {
        var w = [Float](repeating: 0.25, count: 1_100_000_000)
        for (i, v) in [(0, Float(1)), ((1 << 29) - 1, 2), (1 << 29, 3), ((1 << 30) - 1, 4), (1 << 30, 5), (w.count - 1, 6)] { w[i] = v }
        return w
    }

    func testCheckpointRoundTripPast4GiB() throws {
        try XCTSkipUnless(Self.bigTests, "needs about 9 GB of memory and 4.4 GB of disk: set COHORT_BIG_TESTS=1")
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("big.ckpt")
        do {
            let w = bigWeights()
            try CheckpointFile.save(Checkpoint(architecture: nil, metadata: CheckpointMetadata(source: "t"), tensors: [
                ("w", Tensor(shape: [1_100, 1_000_000], data: w)), ("b", Tensor(shape: [2], data: [7, 8])),
            ]), to: path)
        }
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        XCTAssertGreaterThan(size, 4_400_000_000)
        let loaded = try CheckpointFile.load(path)
        XCTAssertEqual(loaded.tensors.map(\.name), ["w", "b"])
        XCTAssertEqual(loaded.tensors[0].value.shape, [1_100, 1_000_000])
        XCTAssertTrue(loaded.tensors[0].value.data == bigWeights(), "bit-for-bit past 4 GiB")
        XCTAssertEqual(loaded.tensors[1].value.data, [7, 8])
    }

    func testSafetensorsExportAndImportPast4GiB() throws {
        try XCTSkipUnless(Self.bigTests, "needs about 9 GB of memory and 4.4 GB of disk: set COHORT_BIG_TESTS=1")
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("big.safetensors")
        do {
            try Safetensors.save([("b", Tensor(shape: [2], data: [7, 8])), ("w", Tensor(shape: [1_100, 1_000_000], data: bigWeights()))], to: path)
        }
        let loaded = try Safetensors.load(path)
        XCTAssertEqual(loaded.tensors.map(\.name), ["b", "w"])
        XCTAssertTrue(loaded.tensors[1].value.data == bigWeights(), "bit-for-bit past 4 GiB")
        XCTAssertEqual(loaded.tensors[0].value.data, [7, 8])
    }
}
