import XCTest
import CCRC32C
import CohortCheckpoint
import CohortTensor
import Foundation

/// A checkpoint written past the page cache (`WriteOptions.bypassPageCache`, how the coordinator
/// writes its journal) is the same file, byte for byte, as one written the usual way.
final class DirectWriteTests: XCTestCase {
    /// Tensors whose payloads cross the 16 MiB staging buffer and end off any 4 KiB boundary.
    private func checkpoint() -> Checkpoint {
        var rng = SeededRandom(seed: 9)
        let sizes = [("big", 4_500_001), ("odd", 7), ("mid", 1_048_579)]
        var metadata = CheckpointMetadata(source: "direct write test")
        metadata.created = "2026-12-07T00:00:00Z"   // both files get the same header
        return Checkpoint(architecture: nil, metadata: metadata,
                          tensors: sizes.map { ($0.0, Tensor(shape: [$0.1], data: (0..<$0.1).map { _ in rng.normal() })) })
    }

    /// Whether this directory's file system takes O_DIRECT (ext4 and recent tmpfs do).
    private func takesDirect(_ dir: TemporaryDirectory) -> Bool {
        let probe = dir.path("probe")
        let fd = cohort_create_direct(probe, 0o644)
        defer { if fd >= 0 { close(fd) }; unlink(probe) }
        return fd >= 0
    }

    func testBypassingThePageCacheWritesTheSameBytes() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let ckpt = checkpoint()
        let plain = try CheckpointFile.save(ckpt, to: dir.path("plain.ckpt"))
        let direct = try CheckpointFile.save(ckpt, to: dir.path("direct.ckpt"), options: .init(bypassPageCache: true))
        XCTAssertFalse(plain.bypassedPageCache)
        XCTAssertEqual(direct.bypassedPageCache, takesDirect(dir), "O_DIRECT used exactly where the file system takes it")
        XCTAssertEqual(direct.bytes, plain.bytes)
        let loaded = try CheckpointFile.load(dir.path("direct.ckpt"))
        XCTAssertEqual(loaded.tensors.map(\.value), ckpt.tensors.map(\.value))
        let aData = try Data(contentsOf: URL(fileURLWithPath: dir.path("plain.ckpt")))
        let bData = try Data(contentsOf: URL(fileURLWithPath: dir.path("direct.ckpt")))
        XCTAssertEqual(bData.count, aData.count, "the padded tail is cut back to the true length")
        XCTAssertEqual(aData.count, plain.bytes)
        // The header's JSON keys come in no fixed order (JSONEncoder): compare it as JSON, every
        // other byte as bytes, except the trailing CRC-32C, which covers the header (`load`
        // checked it above).
        let a = [UInt8](aData), b = [UInt8](bData)
        let jsonEnd = 16 + Int(UInt32(a[12]) | UInt32(a[13]) << 8 | UInt32(a[14]) << 16 | UInt32(a[15]) << 24)
        XCTAssertEqual(Array(a[..<16]), Array(b[..<16]))
        let headerA = try JSONSerialization.jsonObject(with: Data(a[16..<jsonEnd])) as? NSDictionary
        let headerB = try JSONSerialization.jsonObject(with: Data(b[16..<jsonEnd])) as? NSDictionary
        XCTAssertNotNil(headerA)
        XCTAssertEqual(headerA, headerB)
        let firstDifference = zip(a[jsonEnd..<(a.count - 4)], b[jsonEnd..<(b.count - 4)]).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        XCTAssertNil(firstDifference, "every byte after the header the same")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted(), ["direct.ckpt", "plain.ckpt"],
                       "no temporary file left")
    }

    func testReplacingAFileKeepsTheOldOneUntilTheNewOneIsWhole() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.path("journal.ckpt")
        let small = Checkpoint(architecture: nil, metadata: CheckpointMetadata(source: "old"), tensors: [("w", Tensor(shape: [3], data: [1, 2, 3]))])
        try CheckpointFile.save(small, to: path, options: .init(bypassPageCache: true))
        XCTAssertEqual(try CheckpointFile.load(path).tensors[0].value.data, [1, 2, 3])
        // A tensor with NaN is refused before anything is written: the old file stays.
        let bad = Checkpoint(architecture: nil, metadata: CheckpointMetadata(source: "bad"), tensors: [("w", Tensor(shape: [2], data: [1, .nan]))])
        XCTAssertThrowsError(try CheckpointFile.save(bad, to: path, options: .init(bypassPageCache: true)))
        XCTAssertEqual(try CheckpointFile.load(path).metadata.source, "old")
        let big = checkpoint()
        try CheckpointFile.save(big, to: path, options: .init(bypassPageCache: true))
        XCTAssertEqual(try CheckpointFile.load(path).tensors.map(\.value), big.tensors.map(\.value))
    }
}
