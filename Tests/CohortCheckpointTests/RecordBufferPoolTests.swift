import CohortCheckpoint
import CohortTensor
import XCTest

/// Record buffers kept for reuse (`DeltaRecordBuffers`): a record gathered into a reused
/// buffer is bit for bit the record sent (nothing of the buffer's earlier record shows), what
/// is kept stays under the limit, and a limit of 0 keeps nothing.
final class RecordBufferPoolTests: XCTestCase {
    let shapes = ["w": [700_000], "b": [10]]

    override func tearDown() {
        DeltaRecordBuffers.retainLimit = DeltaRecordBuffers.defaultRetainLimit
        DeltaRecordBuffers.releaseRetained()
    }

    func message(seed: UInt64, poison: Bool = false) throws -> (bytes: [UInt8], delta: ModelDelta) {
        var delta = DeltaTestSupport.randomDelta([("w", [700_000]), ("b", [10])], seed: seed)
        guard poison else { return (try DeltaEncoder(config: DeltaCodecConfig()).encode(delta), delta) }
        // The encoder refuses NaN, so a marker value is encoded and then overwritten with NaN.
        var w = delta["w"]!
        w.data[w.count - 3] = 1234.5678
        delta = try ModelDelta([("w", w), ("b", delta["b"]!)])
        var bytes = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        let marker = DeltaTestSupport.f32(1234.5678)
        let at = try XCTUnwrap((0...(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == marker })
        bytes.replaceSubrange(at..<(at + 4), with: DeltaTestSupport.f32(.nan))
        return (bytes, delta)
    }

    /// Decodes `bytes` fed in 100 kB pieces (so the 2.8 MB record is gathered into its own
    /// buffer, not handed out in place), keeping the records.
    func gathered(_ bytes: [UInt8]) throws -> [DeltaRecord] {
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: bytes.count, requireAllTensors: false, messageLength: bytes.count)
        var records: [DeltaRecord] = []
        var at = 0
        while at < bytes.count {
            let n = min(100_000, bytes.count - at)
            try bytes[at..<(at + n)].withUnsafeBytes { try decoder.feed($0) { records.append($0.owned()) } }
            at += n
        }
        try decoder.finish()
        return records
    }

    func assertRecords(_ records: [DeltaRecord], equal delta: ModelDelta, _ what: String) {
        XCTAssertEqual(records.map(\.name), delta.names, what)
        for r in records {
            XCTAssertEqual(r.decoded().data.map(\.bitPattern), delta[r.name]!.data.map(\.bitPattern), "\(what): \(r.name)")
        }
    }

    func testAReusedBufferHoldsOnlyTheNewRecord() throws {
        DeltaRecordBuffers.retainLimit = 64 << 20
        DeltaRecordBuffers.releaseRetained()
        let a = try message(seed: 1), b = try message(seed: 2)
        var records = try gathered(a.bytes)
        XCTAssertTrue(records.first { $0.name == "w" }!.isOwned, "the large record must be gathered for this test")
        assertRecords(records, equal: a.delta, "first message")
        records = []
        XCTAssertGreaterThanOrEqual(DeltaRecordBuffers.retainedBytes, 4 * 700_000, "the freed record buffer is kept")
        records = try gathered(b.bytes)
        XCTAssertEqual(DeltaRecordBuffers.retainedBytes, 0, "the kept buffer was reused for the second message's record")
        assertRecords(records, equal: b.delta, "second message, in the reused buffer")
    }

    func testARecordRefusedInAReusedBufferIsStillRefused() throws {
        DeltaRecordBuffers.retainLimit = 64 << 20
        DeltaRecordBuffers.releaseRetained()
        _ = try gathered(try message(seed: 3).bytes)
        XCTAssertGreaterThan(DeltaRecordBuffers.retainedBytes, 0)
        let bad = try message(seed: 4, poison: true)
        XCTAssertThrowsError(try gathered(bad.bytes)) { error in
            XCTAssertTrue(error is DeltaDecodeError, "\(error)")
        }
        // The refused record's buffer went back too, and the next message still decodes whole.
        let c = try message(seed: 5)
        assertRecords(try gathered(c.bytes), equal: c.delta, "after a refusal")
    }

    func testTheLimitBoundsWhatIsKept() throws {
        XCTAssertEqual(DeltaRecordBuffers.retainLimit, 0, "nothing is kept unless a process asks for it")
        DeltaRecordBuffers.retainLimit = 0
        DeltaRecordBuffers.releaseRetained()
        _ = try gathered(try message(seed: 6).bytes)
        XCTAssertEqual(DeltaRecordBuffers.retainedBytes, 0, "a limit of 0 keeps nothing")

        DeltaRecordBuffers.retainLimit = 5 << 20   // room for one 2.8 MB buffer, not two
        var held: [[DeltaRecord]] = []
        for seed in 7..<11 { held.append(try gathered(try message(seed: UInt64(seed)).bytes)) }
        held = []
        XCTAssertGreaterThan(DeltaRecordBuffers.retainedBytes, 0)
        XCTAssertLessThanOrEqual(DeltaRecordBuffers.retainedBytes, 5 << 20)
        DeltaRecordBuffers.retainLimit = 1 << 20
        XCTAssertEqual(DeltaRecordBuffers.retainedBytes, 0, "lowering the limit unmaps what no longer fits")
    }
}
