import CohortCheckpoint
import CohortTensor
import XCTest

/// The fused decode-and-check (`Float32Scan` in the decoder, `CheckedUpdateFold`) must give
/// the same bits as decoding then folding, refuse bad updates without touching the sums, and
/// find the same errors whatever the chunking.
final class CheckedUpdateFoldTests: XCTestCase {
    let shapes: [(String, [Int])] = [("a", [3, 5]), ("b", [1_201]), ("c", [37])]
    var shapeMap: [String: [Int]] { Dictionary(uniqueKeysWithValues: shapes) }

    /// Feeds `bytes` in chunks of `chunk` bytes; returns the records' (name, sum of squares, decoded).
    func decodeInChunks(_ bytes: [UInt8], chunk: Int) throws -> [(String, Double?, [Float])] {
        let decoder = DeltaStreamDecoder(expectedShapes: shapeMap, maxBytes: 1 << 24, requireAllTensors: false, messageLength: bytes.count)
        var out: [(String, Double?, [Float])] = []
        try bytes.withUnsafeBytes { all in
            var at = 0
            while at < all.count {
                let n = min(chunk, all.count - at)
                try decoder.feed(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)])) { out.append(($0.name, $0.sumOfSquares, $0.decoded().data)) }
                at += n
            }
        }
        try decoder.finish()
        return out
    }

    func testSumOfSquaresMatchesDoubleSumWhateverTheChunking() throws {
        let delta = DeltaTestSupport.randomDelta(shapes, seed: 7, scale: 3)
        let bytes = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        // 1, 3, 5, 7 bytes: values cut by chunk ends at every offset; large: in place.
        for chunk in [1, 3, 5, 7, 64, 1_000, bytes.count] {
            let records = try decodeInChunks(bytes, chunk: chunk)
            XCTAssertEqual(records.map(\.0), ["a", "b", "c"])
            for (name, sum, values) in records {
                let expected = delta[name]!.data.reduce(0.0) { $0 + Double($1) * Double($1) }
                let got = try XCTUnwrap(sum, "float32 record \(name) must carry its sum of squares (chunk \(chunk))")
                XCTAssertEqual(got, expected, accuracy: 1e-5 * expected, "chunk \(chunk), tensor \(name)")
                XCTAssertEqual(values, delta[name]!.data, "gathered values must be the sent values (chunk \(chunk))")
            }
        }
    }

    func testSumOfSquaresOfHugeFiniteValuesDoesNotOverflow() throws {
        // 1e20² overflows float32; the scan must fall back to double for that block.
        let values: [Float] = (0..<1_201).map { $0 == 600 ? 1e20 : 1 }
        let delta = try ModelDelta([("b", Tensor(shape: [1_201], data: values))])
        let bytes = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        for chunk in [5, bytes.count] {
            let sum = try XCTUnwrap(decodeInChunks(bytes, chunk: chunk)[0].1)
            XCTAssertEqual(sum, 1e40 + 1_200, accuracy: 1e34, "chunk \(chunk)")
        }
    }

    func testNonFiniteValueGivesTheSameErrorWhateverTheChunking() throws {
        for (bad, value) in [(0, Float.nan), (700, Float.infinity), (1_200, -Float.infinity), (17, Float.nan)] {
            var values = (0..<1_201).map { Float($0) * 1e-3 }
            values[bad] = value
            let payload = values.flatMap { DeltaTestSupport.f32($0) }
            let message = DeltaTestSupport.message([DeltaTestSupport.record(name: "b", shape: [1_201], count: 1_201, payload: payload)])
            var whole: DeltaDecodeError?
            XCTAssertThrowsError(try decodeInChunks(message, chunk: message.count)) { whole = $0 as? DeltaDecodeError }
            let expected = try XCTUnwrap(whole)
            XCTAssertEqual(expected.tensor, "b")
            XCTAssertTrue(expected.problem.contains("value \(bad) of 1201"), expected.problem)
            for chunk in [1, 3, 6, 4_096] {
                XCTAssertThrowsError(try decodeInChunks(message, chunk: chunk), "chunk \(chunk)") { error in
                    XCTAssertEqual(error as? DeltaDecodeError, expected, "chunk \(chunk)")
                }
            }
        }
    }

    /// Sums for `shapes`, starting from a pattern (not zeros, so a fold is visible).
    func startingSums() -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: shapes.map { name, shape in (name, (0..<shape.reduce(1, *)).map { Float($0 % 13) * 0.25 - 1 }) })
    }

    func fold(_ bytes: [UInt8], weight: Float, maxNorm: Double?, into sums: inout [String: [Float]]) throws(CheckedUpdateRejection) -> CheckedUpdateFold.Folded {
        var buffers: [String: UnsafeMutableBufferPointer<Float>] = [:]
        for (name, values) in sums {
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
            _ = b.initialize(from: values)
            buffers[name] = b
        }
        defer {
            for (name, b) in buffers { sums[name] = Array(b); b.deallocate() }
        }
        return try bytes.withUnsafeBytes { message in
            Result { () throws(CheckedUpdateRejection) in try CheckedUpdateFold.fold(message, shapes: shapeMap, weight: weight, maxNorm: maxNorm) { buffers[$0] } }
        }.get()
    }

    func testFoldEqualsDecodeThenFoldBitwise() throws {
        let configs = [DeltaCodecConfig(), DeltaCodecConfig(quantization: .float16), DeltaCodecConfig(quantization: .int8(blockSize: 64)),
                       DeltaCodecConfig(topKFraction: 0.1), DeltaCodecConfig(zlibLevel: 1)]
        for (k, config) in configs.enumerated() {
            let delta = DeltaTestSupport.randomDelta(shapes, seed: 100 + UInt64(k), scale: 0.5)
            let bytes = try DeltaEncoder(config: config).encode(delta)
            var sums = startingSums()
            let folded = try fold(bytes, weight: 3, maxNorm: nil, into: &sums)
            // The old path: decode to tensors, then one fused multiply-add per element.
            let decoded = try DeltaDecoder(expectedShapes: shapeMap, maxBytes: 1 << 24, requireAllTensors: false).decode(bytes)
            var expected = startingSums()
            var sumOfSquares = 0.0
            for name in decoded.names {
                for (i, x) in decoded[name]!.data.enumerated() {
                    expected[name]![i] = expected[name]![i].addingProduct(3, x)
                    sumOfSquares += Double(x) * Double(x)
                }
            }
            for name in shapeMap.keys {
                XCTAssertEqual(sums[name]!.map(\.bitPattern), expected[name]!.map(\.bitPattern), "\(config.label), tensor \(name)")
            }
            XCTAssertEqual(folded.tensors, decoded.names)
            XCTAssertEqual(folded.norm, sumOfSquares.squareRoot(), accuracy: 1e-5 * sumOfSquares.squareRoot(), config.label)
        }
    }

    func testRejectedUpdatesLeaveTheSumsUntouched() throws {
        let delta = DeltaTestSupport.randomDelta(shapes, seed: 3, scale: 0.5)
        let good = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        let norm = delta.names.flatMap { delta[$0]!.data }.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let before = startingSums()

        // Over the norm bound.
        var sums = before
        XCTAssertThrowsError(try fold(good, weight: 2, maxNorm: norm * 0.99, into: &sums)) { error in
            guard case .overNorm(let n, let bound)? = error as? CheckedUpdateRejection else { return XCTFail("\(error)") }
            XCTAssertEqual(n, norm, accuracy: 1e-5 * norm)
            XCTAssertEqual(bound, norm * 0.99)
        }
        XCTAssertEqual(sums, before)
        // Within it: folded (the check is not vacuous).
        _ = try fold(good, weight: 2, maxNorm: norm * 1.01, into: &sums)
        XCTAssertNotEqual(sums, before)

        // A NaN in the last tensor, after two good ones that would have been folded first.
        let bad = DeltaTestSupport.message([
            DeltaTestSupport.record(name: "a", shape: [3, 5], count: 15, payload: (0..<15).flatMap { DeltaTestSupport.f32(Float($0)) }),
            DeltaTestSupport.record(name: "b", shape: [1_201], count: 1_201, payload: (0..<1_201).flatMap { DeltaTestSupport.f32(Float($0) * 1e-3) }),
            DeltaTestSupport.record(name: "c", shape: [37], count: 37, payload: (0..<37).flatMap { DeltaTestSupport.f32($0 == 36 ? .nan : 1) }),
        ])
        sums = before
        XCTAssertThrowsError(try fold(bad, weight: 2, maxNorm: nil, into: &sums)) { error in
            guard case .malformed(let e)? = error as? CheckedUpdateRejection else { return XCTFail("\(error)") }
            XCTAssertEqual(e.tensor, "c")
        }
        XCTAssertEqual(sums, before)

        // Truncated, and with trailing garbage: typed errors, nothing folded.
        for broken in [Array(good.dropLast(3)), Array(good.prefix(20)), good + [0]] {
            sums = before
            XCTAssertThrowsError(try fold(broken, weight: 2, maxNorm: nil, into: &sums)) { error in
                guard case .malformed? = error as? CheckedUpdateRejection else { return XCTFail("\(error)") }
            }
            XCTAssertEqual(sums, before)
        }

        // A tensor the caller has no sum for.
        sums = before
        sums["c"] = nil
        let trimmedBefore = sums
        XCTAssertThrowsError(try fold(good, weight: 2, maxNorm: nil, into: &sums)) { error in
            XCTAssertEqual(error as? CheckedUpdateRejection, .noSum(tensor: "c"))
        }
        XCTAssertEqual(sums, trimmedBefore)
    }

    /// A 5.2 MB record gathered from chunks of 1 MiB + 3 bytes (values cut at every chunk end,
    /// into a mapped buffer) decodes to the values sent, with its sum of squares.
    func testLargeGatheredRecordDecodesExactly() throws {
        let n = 1_300_000
        let values = (0..<n).map { Float($0 % 1_000) * 1e-3 - 0.5 }
        let delta = try ModelDelta([("big", Tensor(shape: [n], data: values))])
        let bytes = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        let decoder = DeltaStreamDecoder(expectedShapes: ["big": [n]], maxBytes: bytes.count, messageLength: bytes.count)
        var got: [DeltaRecord] = []
        try bytes.withUnsafeBytes { all in
            var at = 0
            while at < all.count {
                let k = min((1 << 20) + 3, all.count - at)
                try decoder.feed(UnsafeRawBufferPointer(rebasing: all[at..<(at + k)])) { got.append($0.owned()) }
                at += k
            }
        }
        try decoder.finish()
        XCTAssertEqual(got.count, 1)
        XCTAssertTrue(got[0].isOwned)
        XCTAssertEqual(got[0].decoded().data, values)
        let expected = values.reduce(0.0) { $0 + Double($1) * Double($1) }
        XCTAssertEqual(try XCTUnwrap(got[0].sumOfSquares), expected, accuracy: 1e-5 * expected)
    }
}
