import CohortCheckpoint
import CohortTensor
import XCTest

/// Malformed input as a test suite: random bytes, every truncation and random bit flips of
/// valid messages. The decoder must never crash: it throws a `DeltaDecodeError` (typed
/// throws make any other error impossible) or returns a delta that passes every check.
final class DeltaFuzzTests: XCTestCase {
    let shapes = ["layer.weight": [24, 16], "layer.bias": [16], "head": [7]]
    var decoder: DeltaDecoder { DeltaDecoder(expectedShapes: shapes, maxBytes: 1 << 16) }

    func validMessages() throws -> [(String, [UInt8])] {
        let delta = DeltaTestSupport.randomDelta([("layer.weight", [24, 16]), ("layer.bias", [16]), ("head", [7])], seed: 21)
        let configs = [
            DeltaCodecConfig(),
            DeltaCodecConfig(quantization: .float16),
            DeltaCodecConfig(quantization: .int8(blockSize: 32)),
            DeltaCodecConfig(topKFraction: 0.1),
            DeltaCodecConfig(topKFraction: 0.1, quantization: .int8(blockSize: 8)),
            DeltaCodecConfig(topKFraction: 0.05, quantization: .int8(blockSize: 256), zlibLevel: 1),
            DeltaCodecConfig(topKFraction: 0.3, quantization: .float16, zlibLevel: 9),
        ]
        return try configs.map { ($0.label, try DeltaEncoder(config: $0).encode(delta)) }
    }

    /// Decodes; returns whether it was rejected. An accepted message must pass every check.
    func rejected(_ bytes: [UInt8], _ what: String) -> Bool {
        do {
            let d = try decoder.decode(bytes)
            XCTAssertTrue(DeltaTestSupport.isSane(d, shapes: shapes), "\(what): accepted a delta that fails the checks")
            XCTAssertEqual(Set(d.names), Set(shapes.keys), what)
            return false
        } catch {
            XCTAssertFalse(error.description.isEmpty)
            return true
        }
    }

    func testRandomByteStringsAreRejected() {
        var rng = SeededRandom(seed: 22)
        let header = DeltaFormat.magic + DeltaTestSupport.le16(1)
        for i in 0..<5000 {
            var bytes = (0..<rng.int(below: 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if i % 2 == 1 { bytes = header + bytes }   // get past the magic and version
            XCTAssertTrue(rejected(bytes, "random string \(i)"))
        }
    }

    func testEveryTruncationIsRejected() throws {
        for (label, message) in try validMessages() {
            XCTAssertFalse(rejected(message, label))
            for n in 0..<message.count {
                XCTAssertTrue(rejected(Array(message.prefix(n)), "\(label) cut to \(n) of \(message.count) bytes"))
            }
        }
    }

    func testBitFlipsAreRejectedOrPassAllChecks() throws {
        var rng = SeededRandom(seed: 23)
        var flips = 0, rejections = 0
        for (label, message) in try validMessages() {
            for trial in 0..<1500 {
                var m = message
                for _ in 0..<(1 + trial % 3) {
                    let bit = rng.int(below: m.count * 8)
                    m[bit / 8] ^= 1 << UInt8(bit % 8)
                }
                flips += 1
                if rejected(m, "\(label) flip trial \(trial)") { rejections += 1 }
            }
        }
        // Most flips land in float payloads and stay valid; the header and structure are checked.
        XCTAssertGreaterThan(rejections, 0)
        XCTAssertLessThanOrEqual(rejections, flips)
    }

    func testRandomSplicesOfValidRecordsAreRejectedOrPassAllChecks() throws {
        // Random bytes inside an otherwise well-formed header with matching sizes reach the
        // record parser rather than the header checks.
        var rng = SeededRandom(seed: 24)
        for i in 0..<3000 {
            let body = (0..<rng.int(below: 200)).map { _ in UInt8(truncatingIfNeeded: rng.next() % (i % 3 == 0 ? 4 : 256)) }
            let m = DeltaTestSupport.header(tensors: UInt32(1 + i % 3), bodySize: UInt64(body.count)) + body
            _ = rejected(m, "splice \(i)")
        }
    }
}
