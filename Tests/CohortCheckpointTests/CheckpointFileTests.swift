import XCTest
import CohortCheckpoint
import CohortNN
import CohortTensor
import Foundation

final class CheckpointFileTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [6, 6, 1], layers: [
        LayerSpec(.conv2d, name: "features.0", units: 3, kernel: 3, padding: 1),
        LayerSpec(.batchnorm2d, name: "features.1"), LayerSpec(.relu, name: "features.2"),
        LayerSpec(.flatten, name: "flatten"), LayerSpec(.dense, name: "head", units: 4),
    ])

    private func trainedModel() throws -> Sequential {
        let model = try Sequential(spec: spec, seed: 3)
        var rng = SeededRandom(seed: 1)
        for _ in 0..<3 { _ = model.forward(Tensor(shape: [8, 6, 6, 1], data: (0..<288).map { _ in rng.normal() }), mode: .training) }
        return model
    }

    func testFloat32RoundTripIsExactAndRebuildsTheModel() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let model = try trainedModel()
        let meta = CheckpointMetadata(source: "unit test", history: ["{\"epoch\":0}"], metrics: ["val_acc": 0.75])
        for zlib in [nil, Int32(6)] {
            let path = dir.path("m.ckpt")
            try CheckpointFile.save(model: model, metadata: meta, to: path, options: .init(zlibLevel: zlib))
            let loaded = try CheckpointFile.load(path)
            XCTAssertEqual(loaded.metadata, meta)
            XCTAssertEqual(loaded.architecture, spec)
            XCTAssertEqual(loaded.tensors.map(\.name), model.stateDict().map(\.name))
            XCTAssertEqual(loaded.tensors.map(\.value), model.stateDict().map(\.value), "bit-for-bit")
            let rebuilt = try loaded.makeModel(path: path)
            let x = Tensor(shape: [2, 6, 6, 1], repeating: 0.3)
            XCTAssertEqual(rebuilt.forward(x, mode: .evaluation), model.forward(x, mode: .evaluation))
        }
    }

    func testFloat16AndInt8StayWithinTheirStatedBounds() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        var rng = SeededRandom(seed: 2)
        let w = Tensor(shape: [1000], data: (0..<1000).map { _ in rng.normal() })
        let ckpt = Checkpoint(architecture: nil, metadata: CheckpointMetadata(source: "t"), tensors: [("w", w)])
        try CheckpointFile.save(ckpt, to: dir.path("h.ckpt"), options: .init(storage: .float16))
        let h = try CheckpointFile.load(dir.path("h.ckpt")).tensors[0].value
        for i in 0..<1000 { XCTAssertLessThanOrEqual(abs(h.data[i] - w.data[i]), abs(w.data[i]) * 0x1p-11 + 1e-7) }
        try CheckpointFile.save(ckpt, to: dir.path("q.ckpt"), options: .init(storage: .int8(blockSize: 64), zlibLevel: 1))
        let q = try CheckpointFile.load(dir.path("q.ckpt")).tensors[0].value
        for b in 0..<16 {
            let range = (b * 64)..<min(b * 64 + 64, 1000)
            let scale = range.map { abs(w.data[$0]) }.max()! / 127
            for i in range { XCTAssertLessThanOrEqual(abs(q.data[i] - w.data[i]), scale / 2 * 1.0001 + 1e-7) }
        }
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: dir.path("q.ckpt"))[.size] as! Int, 1600)
    }

    func testDamagedFilesGiveErrorsSayingWhatAndWhere() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("m.ckpt")
        try CheckpointFile.save(model: try trainedModel(), metadata: CheckpointMetadata(source: "t"), to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        func load(_ bytes: Data) -> String {
            let p = dir.path("bad.ckpt")
            try! bytes.write(to: URL(fileURLWithPath: p))
            do { _ = try CheckpointFile.load(p); return "loaded" } catch { return "\(error)" }
        }
        // Every truncation is refused, naming the cut field.
        for cut in stride(from: 0, to: good.count, by: 7) {
            let message = load(good.prefix(cut))
            XCTAssertTrue(message.contains("truncated") || message.contains("corrupt"), "cut at \(cut): \(message)")
        }
        XCTAssertTrue(load(good.prefix(good.count - 2)).contains("truncated: checksum needs 4 bytes"))
        var magic = good; magic[0] = 0x58
        XCTAssertTrue(load(magic).contains("not a Cohort checkpoint (wrong magic"))
        var future = good; future[8] = 9
        XCTAssertTrue(load(future).contains("format version 9 is newer than this cohort reads (2)"))
        var flipped = good; flipped[good.count - 100] ^= 0x01
        XCTAssertTrue(load(flipped).contains("checksum mismatch"), load(flipped))
        var trailing = good; trailing.append(0)
        XCTAssertTrue(load(trailing).contains("1 unexpected bytes after the checksum"))
        XCTAssertTrue(load(Data()).contains("truncated: magic needs 8 bytes at offset 0"))
        XCTAssertEqual(load(good), "loaded")
    }

    /// Bitwise CRC-32C (the definition), independent of the table and instruction versions.
    static func referenceCRC32C(_ bytes: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0x82F6_3B78 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    func testVersion2EndsWithTheCRC32CAndVersion1FilesStillRead() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let model = try trainedModel()
        let v2 = dir.path("v2.ckpt"), v1 = dir.path("v1.ckpt")
        try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "t"), to: v2)
        try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "t"), to: v1, options: .init(formatVersion: 1))
        let b2 = try Data(contentsOf: URL(fileURLWithPath: v2)), b1 = try Data(contentsOf: URL(fileURLWithPath: v1))
        XCTAssertEqual(b2[8], 2)
        XCTAssertEqual(b1[8], 1)
        XCTAssertEqual(b1.count, b2.count + 28, "version 1 ends with a 32-byte SHA-256, version 2 with a 4-byte CRC")
        XCTAssertEqual(Self.referenceCRC32C(Data("123456789".utf8)), 0xE306_9283)   // the reference is the standard CRC-32C
        let stored = b2.suffix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        XCTAssertEqual(stored, Self.referenceCRC32C(b2.prefix(b2.count - 4)))
        // Both read back to the same weights.
        let a = try CheckpointFile.load(v2), b = try CheckpointFile.load(v1)
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name))
        for (x, y) in zip(a.tensors, b.tensors) { XCTAssertEqual(x.value.data, y.value.data) }
        // A flipped bit in a large file (past the 24 KiB the instruction version interleaves) is caught.
        let big = dir.path("big.ckpt")
        let weights = (0..<100_000).map { Float($0 % 977) * 1e-3 }
        try CheckpointFile.save(Checkpoint(architecture: nil, metadata: CheckpointMetadata(source: "t"),
                                           tensors: [("w", Tensor(shape: [100_000], data: weights))]), to: big)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: big))
        let bigStored = bytes.suffix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        XCTAssertEqual(bigStored, Self.referenceCRC32C(bytes.prefix(bytes.count - 4)))
        for position in [40, 50_000, 200_000, bytes.count - 5] {
            var damaged = bytes
            damaged[position] ^= 0x10
            try damaged.write(to: URL(fileURLWithPath: big))
            XCTAssertThrowsError(try CheckpointFile.load(big), "bit flipped at \(position)") { error in
                XCTAssertTrue("\(error)".contains("checksum mismatch") || "\(error)".contains("corrupt"), "\(error)")
            }
        }
        try bytes.write(to: URL(fileURLWithPath: big))
        XCTAssertEqual(try CheckpointFile.load(big).tensors[0].value.data, weights)
    }

    func testHugeDeclaredSizesAreRefusedBeforeAllocating() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("m.ckpt")
        let tiny = Checkpoint(architecture: nil, metadata: CheckpointMetadata(source: "t"), tensors: [("w", Tensor(shape: [2], data: [1, 2]))])
        try CheckpointFile.save(tiny, to: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // Find the record: name length 1, "w", storage 0, compression 0, rank 1, then the dimension.
        let header = Int(UInt32(bytes[12]) | UInt32(bytes[13]) << 8 | UInt32(bytes[14]) << 16 | UInt32(bytes[15]) << 24)
        let dimOffset = 16 + header + 2 + 1 + 1 + 1 + 1
        XCTAssertEqual(bytes[dimOffset], 2)
        bytes[dimOffset + 5] = 0x40 // dimension 2^40 + 2
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try CheckpointFile.load(path)) { XCTAssertTrue("\($0)".contains("over the limit"), "\($0)") }
        var header32 = try Data(contentsOf: URL(fileURLWithPath: path))
        header32[15] = 0x7F // header length ~2 GB
        try header32.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try CheckpointFile.load(path)) { XCTAssertTrue("\($0)".contains("header length"), "\($0)") }
    }

    func testCompressedRecordClaimingAHugeRawSizeIsRefusedBeforeInflating() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("z.ckpt")
        let tiny = Checkpoint(architecture: nil, metadata: CheckpointMetadata(source: "t"), tensors: [("w", Tensor(shape: [2], data: [1, 2]))])
        try CheckpointFile.save(tiny, to: path, options: .init(zlibLevel: 1))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let header = Int(UInt32(bytes[12]) | UInt32(bytes[13]) << 8 | UInt32(bytes[14]) << 16 | UInt32(bytes[15]) << 24)
        // Record: u16 name length, "w", storage, compression, rank, u64 dim, u64 raw, u64 stored.
        let dim = 16 + header + 2 + 1 + 1 + 1 + 1
        let raw = dim + 8
        XCTAssertEqual(bytes[dim], 2)
        // Claim 2^30 elements (4 GiB raw) in a payload of a few bytes.
        for (i, b) in [UInt8(0), 0, 0, 0x40, 0, 0, 0, 0].enumerated() { bytes[dim + i] = b }
        for (i, b) in [UInt8(0), 0, 0, 0, 1, 0, 0, 0].enumerated() { bytes[raw + i] = b }
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try CheckpointFile.load(path)) {
            XCTAssertTrue("\($0)".contains("is impossible for"), "\($0)")
        }
    }

    func testFailedSaveLeavesTheOldFileAndNoTemporaryFiles() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("m.ckpt")
        let model = try trainedModel()
        try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "first"), to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let bad = Checkpoint(architecture: nil, metadata: CheckpointMetadata(source: "nan"), tensors: [("w", Tensor(shape: [1], data: [.nan]))])
        XCTAssertThrowsError(try CheckpointFile.save(bad, to: path)) { XCTAssertTrue("\($0)".contains("holds NaN or infinity; nothing was written")) }
        XCTAssertThrowsError(try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "x"), to: dir.path("missing-dir/m.ckpt")))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path), ["m.ckpt"])
        // Saving again replaces the file in one step.
        try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "second"), to: path)
        XCTAssertEqual(try CheckpointFile.load(path).metadata.source, "second")
    }

    func testLoadingIntoAWrongArchitectureListsEveryMismatch() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("m.ckpt")
        var ckpt = Checkpoint(model: try trainedModel(), metadata: CheckpointMetadata(source: "t"))
        ckpt.architecture?.layers[4].units = 5
        try CheckpointFile.save(ckpt, to: path)
        XCTAssertThrowsError(try CheckpointFile.load(path).makeModel(path: path)) {
            XCTAssertTrue("\($0)".contains("'head.weight': shape [4, 108], model has [5, 108]"), "\($0)")
            XCTAssertTrue("\($0)".contains("'head.bias': shape [4], model has [5]"), "\($0)")
        }
    }
}
