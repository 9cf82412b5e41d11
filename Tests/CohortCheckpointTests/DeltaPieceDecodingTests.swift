import CohortCheckpoint
import CohortTensor
import XCTest

/// Dense records handed out in pieces (`feed(_:piecewise:pieces:_:)`): every piece is checked
/// before it is handed out, a bad value stops the record exactly before it (whatever the feeds),
/// and the errors are the whole-record decoder's.
final class DeltaPieceDecodingTests: XCTestCase {
    let shapes = ["layer.weight": [40, 30], "layer.bias": [30], "head": [7]]

    /// What a piecewise decode handed out: per tensor, the element ranges of its pieces (or one
    /// range for a whole record), the values (each piece folded into zeros with weight 1), and
    /// the error, if any.
    struct Outcome {
        var ranges: [String: [Range<Int>]] = [:]
        var wholes: Set<String> = []
        var values: [String: [Float]] = [:]
        var error: DeltaDecodeError?
        /// Elements of `name` handed out, checking they form one run from 0.
        func covered(_ name: String) -> Int {
            var end = 0
            for r in ranges[name] ?? [] {
                XCTAssertEqual(r.lowerBound, end, "pieces of \(name) in order, each once")
                end = r.upperBound
            }
            return end
        }
    }

    func decode(_ bytes: [UInt8], shapes: [String: [Int]], feeds: [Int], pieceBytes: Int, maxBytes: Int = 1 << 22,
                piecewise: (Int) -> Bool = { _ in true }) -> Outcome {
        var out = Outcome()
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: maxBytes, messageLength: bytes.count, pieceBytes: pieceBytes)
        func sum(_ name: String) -> [Float] { out.values[name] ?? [Float](repeating: 0, count: shapes[name]!.reduce(1, *)) }
        var at = 0, f = 0
        do {
            while at < bytes.count {
                let n = min(feeds[f % feeds.count], bytes.count - at)
                try bytes[at..<(at + n)].withUnsafeBytes { b in
                    try decoder.feed(b, piecewise: piecewise(f), pieces: { piece in
                        XCTAssertLessThanOrEqual(piece.elements.count, pieceBytes)
                        out.ranges[piece.name, default: []].append(piece.elements)
                        var y = sum(piece.name)
                        y.withUnsafeMutableBufferPointer { DeltaFold.accumulate(piece, weight: 1, into: $0) }
                        out.values[piece.name] = y
                    }) { record in
                        out.wholes.insert(record.name)
                        out.ranges[record.name, default: []].append(0..<record.elementCount)
                        var y = sum(record.name)
                        y.withUnsafeMutableBufferPointer { DeltaFold.accumulate(record, weight: 1, into: $0) }
                        out.values[record.name] = y
                    }
                }
                at += n
                f += 1
            }
            try decoder.finish()
        } catch let error as DeltaDecodeError {
            out.error = error
        } catch {
            out.error = DeltaDecodeError("unexpected \(error)")
        }
        return out
    }

    func whole(_ bytes: [UInt8], shapes: [String: [Int]], maxBytes: Int = 1 << 22) -> Result<ModelDelta, DeltaDecodeError> {
        Result { () throws(DeltaDecodeError) in try DeltaDecoder(expectedShapes: shapes, maxBytes: maxBytes).decode(bytes) }
    }

    /// Fed in pieces of the given sizes (cycled): the feeds split values in every place.
    var feedings: [[Int]] {
        var rng = SeededRandom(seed: 80)
        return [[1], [3], [7], [64], [1000], (0..<8).map { _ in 1 + rng.int(below: 300) }]
    }

    func testEveryDenseEncodingComesOutInCheckedPiecesWithTheWholeDecodersValues() throws {
        let delta = DeltaTestSupport.randomDelta([("layer.weight", [40, 30]), ("layer.bias", [30]), ("head", [7])], seed: 81)
        let configs = [DeltaCodecConfig(), DeltaCodecConfig(quantization: .float16), DeltaCodecConfig(quantization: .int8(blockSize: 32)),
                       DeltaCodecConfig(quantization: .int8(blockSize: 1)), DeltaCodecConfig(zlibLevel: 6),
                       DeltaCodecConfig(topKFraction: 0.3, quantization: .int8(blockSize: 8))]
        for config in configs {
            let bytes = try DeltaEncoder(config: config).encode(delta)
            guard case .success(let reference) = whole(bytes, shapes: shapes) else { return XCTFail("\(config.label) does not decode") }
            for feeds in feedings {
                for pieceBytes in [4, 13, 256] {
                    let out = decode(bytes, shapes: shapes, feeds: feeds, pieceBytes: pieceBytes)
                    XCTAssertNil(out.error, "\(config.label)")
                    for name in reference.names {
                        XCTAssertEqual(out.covered(name), reference[name]!.count, "\(config.label) \(name)")
                        let zero = Float(0)
                        XCTAssertEqual(out.values[name]?.map(\.bitPattern), reference[name]!.data.map { zero.addingProduct(1, $0).bitPattern },
                                       "\(config.label) \(name), feeds \(feeds), pieces of \(pieceBytes)")
                    }
                    // A record over the piece size that no feed holds whole comes in pieces;
                    // sparse records (top-k) always whole.
                    if feeds == [7] && pieceBytes == 256 {
                        XCTAssertEqual(out.wholes.contains("layer.weight"), config.topKFraction != nil, config.label)
                        XCTAssertGreaterThan(out.ranges["layer.weight"]?.count ?? 0, config.topKFraction == nil ? 1 : 0, config.label)
                    }
                }
            }
        }
    }

    func testARecordBeingGatheredSwitchesToPiecesWithWhatItHolds() throws {
        let delta = DeltaTestSupport.randomDelta([("layer.weight", [40, 30]), ("layer.bias", [30]), ("head", [7])], seed: 82)
        for config in [DeltaCodecConfig(), DeltaCodecConfig(quantization: .int8(blockSize: 16)), DeltaCodecConfig(zlibLevel: 1)] {
            let bytes = try DeltaEncoder(config: config).encode(delta)
            guard case .success(let reference) = whole(bytes, shapes: shapes) else { return XCTFail(config.label) }
            // Two feeds gather part of layer.weight; an empty feed asking for pieces hands it out;
            // the rest come in pieces even without asking (the record started in pieces). Every
            // `first` ends inside layer.weight's values for each encoding (int8: 1,500 bytes).
            for first in [300, 700, 1_200] {
                let feeds = [first / 2, first - first / 2, 0, 50]
                let out = decode(bytes, shapes: shapes, feeds: feeds, pieceBytes: 64) { $0 == 2 }
                XCTAssertNil(out.error, config.label)
                XCTAssertFalse(out.wholes.contains("layer.weight"), "\(config.label), switched after \(first) bytes")
                XCTAssertEqual(out.covered("layer.weight"), 1200)
                XCTAssertEqual(out.values["layer.weight"]?.map(\.bitPattern), reference["layer.weight"]!.data.map { Float(0).addingProduct(1, $0).bitPattern })
                XCTAssertTrue(out.wholes.contains("layer.bias") && out.wholes.contains("head"), "later records: whole (not asked for pieces)")
            }
        }
    }

    /// A message of a 5,000-element dense record of `payload`, then a small valid record.
    func message(_ encoding: UInt8, blockSize: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        DeltaTestSupport.message([
            DeltaTestSupport.record(name: "w", shape: [50, 100], encoding: encoding, blockSize: blockSize, count: 5_000, payload: payload),
            DeltaTestSupport.record(name: "b", shape: [3], count: 3, payload: [1, 2, 3].flatMap { DeltaTestSupport.f32(Float($0)) }),
        ])
    }

    func testABadValueMidRecordStopsItExactlyBeforeThatValueWithTheWholeDecodersError() throws {
        let shapes = ["w": [50, 100], "b": [3]]
        var rng = SeededRandom(seed: 83)
        let floats = (0..<5_000).map { _ in rng.normal() }
        func f32(_ values: [Float]) -> [UInt8] { values.flatMap { DeltaTestSupport.f32($0) } }
        func half(_ values: [Float]) -> [UInt8] { values.flatMap { DeltaTestSupport.le16(Float16($0).bitPattern) } }
        let scales = (0..<79).map { _ in Float(0.01) }   // int8 block 64: 79 blocks
        let int8s = (0..<5_000).map { _ in UInt8(bitPattern: Int8(rng.int(below: 255) - 127)) }
        func int8(scales s: [Float], values: [UInt8]) -> [UInt8] { f32(s) + values }
        var nan = floats; nan[3_217] = .nan
        var inf = floats; inf[4_999] = .infinity
        var minus = int8s; minus[2_500] = 0x80
        var negative = scales; negative[20] = -0.5
        var early = int8s; early[1_000] = 0x80   // block 15, before the bad scale of block 20
        var late = int8s; late[1_500] = 0x80     // block 23, after it
        let cases: [(String, [UInt8], covered: Int)] = [
            ("float32 NaN", message(0, payload: f32(nan)), 3_217),
            ("float16 infinity", message(1, payload: half(inf)), 4_999),
            ("int8 -128", message(2, blockSize: 64, payload: int8(scales: scales, values: minus)), 2_500),
            ("int8 negative scale", message(2, blockSize: 64, payload: int8(scales: negative, values: int8s)), 20 * 64),
            ("int8 -128 before a bad scale", message(2, blockSize: 64, payload: int8(scales: negative, values: early)), 1_000),
            ("int8 -128 after a bad scale", message(2, blockSize: 64, payload: int8(scales: negative, values: late)), 20 * 64),
        ]
        for (what, bytes, covered) in cases {
            guard case .failure(let expected) = whole(bytes, shapes: shapes) else { XCTFail("\(what) decodes whole"); continue }
            for feeds in feedings {
                for pieceBytes in [4, 100, 64 << 10] {
                    let out = decode(bytes, shapes: shapes, feeds: feeds, pieceBytes: pieceBytes)
                    XCTAssertEqual(out.error?.description, expected.description, "\(what), feeds \(feeds), pieces of \(pieceBytes)")
                    if pieceBytes < 5_000 {
                        XCTAssertEqual(out.covered("w"), covered, "\(what): exactly the values before the bad one, feeds \(feeds)")
                        XCTAssertFalse(out.wholes.contains("w"))
                    }
                    XCTAssertNil(out.ranges["b"], "nothing after the bad record")
                }
            }
        }
    }

    func testDamagedMessagesGetTheWholeDecodersErrorInPieces() throws {
        let delta = DeltaTestSupport.randomDelta([("layer.weight", [40, 30]), ("layer.bias", [30]), ("head", [7])], seed: 84)
        var rng = SeededRandom(seed: 85)
        for config in [DeltaCodecConfig(), DeltaCodecConfig(quantization: .float16), DeltaCodecConfig(quantization: .int8(blockSize: 16)),
                       DeltaCodecConfig(quantization: .int8(blockSize: 16), zlibLevel: 1)] {
            let message = try DeltaEncoder(config: config).encode(delta)
            var damaged: [(String, [UInt8])] = stride(from: 0, to: message.count, by: max(1, message.count / 25)).map { ("cut to \($0)", Array(message.prefix($0))) }
            for trial in 0..<80 {
                var m = message
                let bit = rng.int(below: m.count * 8)
                m[bit / 8] ^= 1 << UInt8(bit % 8)
                // Exponent bits set to all ones make a NaN or infinity somewhere in the values.
                if trial % 4 == 0 { let at = 40 + rng.int(below: m.count - 44); m[at + 3] |= 0x7F; m[at + 2] |= 0x80 }
                damaged.append(("flip \(trial)", m))
            }
            for (what, bytes) in damaged {
                let reference = whole(bytes, shapes: shapes)
                for feeds in [[1], [37], [500]] {
                    let out = decode(bytes, shapes: shapes, feeds: feeds, pieceBytes: 64)
                    switch reference {
                    case .success(let d):
                        XCTAssertNil(out.error, "\(config.label) \(what)")
                        for name in d.names { XCTAssertEqual(out.covered(name), d[name]!.count) }
                    case .failure(let e):
                        guard let mine = out.error else { XCTFail("\(config.label) \(what): pieces accepted what the whole decoder refuses: \(e)"); continue }
                        if mine != e {
                            // Inside a zlib body the whole record is checked once it is all in, after a
                            // zlib error further on in it; a piece's bad value is found before that.
                            XCTAssertTrue(e.problem.hasPrefix("zlib body") && mine.tensor != nil && config.zlibLevel != nil,
                                          "\(config.label) \(what): whole \(e), pieces \(mine)")
                        }
                    }
                }
            }
        }
    }
}
