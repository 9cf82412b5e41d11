import CohortCheckpoint
import CohortTensor
import XCTest

/// The streaming decoder, fed in pieces of every size, must say exactly what the whole-message
/// decoder says: the same tensors bit for bit, or the same error.
final class DeltaStreamDecoderTests: XCTestCase {
    let shapes = ["layer.weight": [40, 30], "layer.bias": [30], "head": [7]]

    func messages() throws -> [(String, [UInt8])] {
        let delta = DeltaTestSupport.randomDelta([("layer.weight", [40, 30]), ("layer.bias", [30]), ("head", [7])], seed: 31)
        let configs = [
            DeltaCodecConfig(), DeltaCodecConfig(quantization: .float16), DeltaCodecConfig(quantization: .int8(blockSize: 32)),
            DeltaCodecConfig(zlibLevel: 1), DeltaCodecConfig(topKFraction: 0.1), DeltaCodecConfig(topKFraction: 0.1, quantization: .int8(blockSize: 8)),
            DeltaCodecConfig(topKFraction: 0.05, quantization: .int8(blockSize: 256), zlibLevel: 1),
            DeltaCodecConfig(topKFraction: 0.3, quantization: .float16, zlibLevel: 9),
        ]
        return try configs.map { ($0.label, try DeltaEncoder(config: $0).encode(delta)) }
    }

    /// The outcome of decoding `bytes` fed in pieces of the given sizes (cycled).
    func streamed(_ bytes: [UInt8], pieces: [Int], maxBytes: Int = 1 << 16) -> Result<ModelDelta, DeltaDecodeError> {
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: maxBytes, messageLength: bytes.count)
        var entries: [(name: String, value: Tensor)] = []
        var at = 0, piece = 0
        do {
            while at < bytes.count {
                let n = min(pieces[piece % pieces.count], bytes.count - at)
                try bytes[at..<(at + n)].withUnsafeBytes { try decoder.feed($0) { entries.append(($0.name, $0.decoded())) } }
                at += n
                piece += 1
            }
            try decoder.finish()
            return .success(try ModelDelta(entries))
        } catch let error as DeltaDecodeError {
            return .failure(error)
        } catch {
            return .failure(DeltaDecodeError("unexpected \(error)"))
        }
    }

    func whole(_ bytes: [UInt8], maxBytes: Int = 1 << 16) -> Result<ModelDelta, DeltaDecodeError> {
        Result { () throws(DeltaDecodeError) in try DeltaDecoder(expectedShapes: shapes, maxBytes: maxBytes).decode(bytes) }
    }

    func assertSame(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let reference = whole(bytes)
        var rng = SeededRandom(seed: UInt64(bytes.count))
        for pieces in [[1], [3], [7], [64], [1000], (0..<8).map { _ in 1 + rng.int(below: 300) }] {
            switch (reference, streamed(bytes, pieces: pieces)) {
            case let (.success(a), .success(b)):
                XCTAssertEqual(a.names, b.names, "\(what) in pieces \(pieces)", file: file, line: line)
                for name in a.names {
                    XCTAssertEqual(a[name]!.data.map(\.bitPattern), b[name]!.data.map(\.bitPattern), "\(what) \(name)", file: file, line: line)
                }
            case let (.failure(a), .failure(b)):
                XCTAssertEqual(a.description, b.description, "\(what) in pieces \(pieces)", file: file, line: line)
            case let (a, b):
                XCTFail("\(what) in pieces \(pieces): whole \(a), streamed \(b)", file: file, line: line)
            }
        }
    }

    func testEveryChunkingAgreesWithTheWholeMessageOnValidTruncatedAndDamagedMessages() throws {
        var rng = SeededRandom(seed: 32)
        for (label, message) in try messages() {
            assertSame(message, label)
            for n in stride(from: 0, to: message.count, by: max(1, message.count / 40)) { assertSame(Array(message.prefix(n)), "\(label) cut to \(n)") }
            for trial in 0..<60 {
                var m = message
                let bit = rng.int(below: min(m.count, 400) * 8)   // the headers and the first records, where structure lives
                m[bit / 8] ^= 1 << UInt8(bit % 8)
                assertSame(m, "\(label) flip \(trial)")
            }
        }
    }

    func testRecordsAreHandedOutAsSoonAsTheirLastByteArrives() throws {
        let delta = DeltaTestSupport.randomDelta([("layer.weight", [40, 30]), ("layer.bias", [30]), ("head", [7])], seed: 33)
        let bytes = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 16, messageLength: bytes.count)
        var emittedAt: [String: Int] = [:]
        for i in 0..<bytes.count {
            try bytes[i...i].withUnsafeBytes { try decoder.feed($0) { emittedAt[$0.name] = i + 1; XCTAssertTrue($0.isOwned) } }
        }
        try decoder.finish()
        // Records are 2 + name + 1 + 4·rank + 10 header bytes, then 4 bytes per value, in encoding order.
        var end = DeltaFormat.headerSize
        for name in delta.names {
            end += 2 + name.utf8.count + 1 + 4 * delta[name]!.rank + 10 + 4 * delta[name]!.count
            XCTAssertEqual(emittedAt[name], end, name)
        }
        XCTAssertEqual(end, bytes.count)
    }

    func testRecordsInsideTheFedBytesAreLentAndOwnedCopiesOutliveThem() throws {
        let delta = DeltaTestSupport.randomDelta([("layer.weight", [40, 30]), ("layer.bias", [30]), ("head", [7])], seed: 34)
        var bytes = try DeltaEncoder(config: DeltaCodecConfig(quantization: .int8(blockSize: 64))).encode(delta)
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 16, messageLength: bytes.count)
        var kept: [DeltaRecord] = []
        try bytes.withUnsafeBytes { try decoder.feed($0) { XCTAssertFalse($0.isOwned); kept.append($0.owned()) } }
        try decoder.finish()
        let expected = try DeltaDecoder(expectedShapes: shapes, maxBytes: 1 << 16).decode(bytes)
        for i in bytes.indices { bytes[i] = 0xEE }
        XCTAssertEqual(kept.map(\.name), delta.names)
        for r in kept { XCTAssertTrue(r.isOwned); XCTAssertEqual(r.decoded(), expected[r.name]) }
    }

    func testAnAnnouncementOverTheBudgetIsRefusedAtTheHeaderBeforeAnyBody() throws {
        let bytes = try DeltaEncoder(config: DeltaCodecConfig()).encode(DeltaTestSupport.randomDelta([("head", [7])], seed: 35))
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 20, requireAllTensors: false, messageLength: 1 << 40)
        XCTAssertThrowsError(try bytes.prefix(DeltaFormat.headerSize).withUnsafeBytes { try decoder.feed($0) { _ in } }) {
            XCTAssertEqual("\($0)", "delta rejected: message is 1099511627776 bytes, over the budget of 1048576")
        }
        // A body size over the budget is refused from the header too, whatever the message length.
        var lying = bytes
        lying.replaceSubrange(12..<20, with: DeltaTestSupport.le64(1 << 30))
        let second = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 20, requireAllTensors: false, messageLength: lying.count)
        XCTAssertThrowsError(try lying.prefix(DeltaFormat.headerSize).withUnsafeBytes { try second.feed($0) { _ in } }) {
            XCTAssertEqual("\($0)", "delta rejected: message byte 12: declared body size 1073741824 is over the budget of 1048576 bytes")
        }
    }

    func testAZlibBodyIsInflatedRecordByRecord() throws {
        let delta = DeltaTestSupport.randomDelta([("layer.weight", [40, 30]), ("layer.bias", [30]), ("head", [7])], seed: 36)
        let bytes = try DeltaEncoder(config: DeltaCodecConfig(quantization: .int8(blockSize: 64), zlibLevel: 6)).encode(delta)
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 16, messageLength: bytes.count)
        var firstAt: Int?
        for start in stride(from: 0, to: bytes.count, by: 50) {
            try bytes[start..<min(start + 50, bytes.count)].withUnsafeBytes { try decoder.feed($0) { _ in if firstAt == nil { firstAt = start } } }
        }
        try decoder.finish()
        XCTAssertNotNil(firstAt)
        XCTAssertLessThan(firstAt ?? .max, bytes.count - 50, "the first record came out before the last piece was fed")
    }
}

/// The float32 message made of parts (streamed from the tensors) is the encoder's, byte for byte.
final class Float32PartsTests: XCTestCase {
    func testPartsConcatenateToTheEncodersMessage() throws {
        let delta = DeltaTestSupport.randomDelta([("a", [3, 5]), ("b.bias", [5]), ("c", [2, 2, 2])], seed: 37)
        let parts = try DeltaEncoder.float32Parts(delta.entries)
        let bytes = parts.flatMap { part -> [UInt8] in
            switch part {
            case .bytes(let b): return b
            case .floats(let f): return f.withUnsafeBytes { Array($0) }
            }
        }
        XCTAssertEqual(bytes, try DeltaEncoder(config: DeltaCodecConfig()).encode(delta))
        XCTAssertThrowsError(try DeltaEncoder.float32Parts([("x", Tensor(shape: [2], data: [1, .infinity]))])) {
            XCTAssertEqual("\($0)", "tensor 'x': delta is inf at element 1 (values must be finite)")
        }
    }
}
