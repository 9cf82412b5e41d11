import CohortCheckpoint
import CohortTensor
import XCTest

/// Folding records from their wire bytes must give exactly `fma(w, decoded, y)` per element, in
/// record order, however the records are grouped into calls.
final class DeltaFoldTests: XCTestCase {
    /// Records of one tensor `t` of `count` elements, one per config, each from its own delta.
    func records(count: Int, configs: [DeltaCodecConfig], seed: UInt64) throws -> [DeltaRecord] {
        try configs.enumerated().map { k, config in
            let delta = DeltaTestSupport.randomDelta([("t", [count])], seed: seed + UInt64(k), scale: 0.1 * Float(k + 1))
            let bytes = try DeltaEncoder(config: config).encode(delta)
            let decoder = DeltaStreamDecoder(expectedShapes: ["t": [count]], maxBytes: 1 << 26, messageLength: bytes.count)
            var out: [DeltaRecord] = []
            try bytes.withUnsafeBytes { try decoder.feed($0) { out.append($0.owned()) } }
            try decoder.finish()
            return out[0]
        }
    }

    /// The definition: decode, then one fused multiply-add per element, record by record.
    func reference(_ records: [DeltaRecord], _ weights: [Float], start: [Float]) -> [Float] {
        var y = start
        for (r, w) in zip(records, weights) {
            let x = r.decoded().data
            for i in y.indices { y[i] = y[i].addingProduct(w, x[i]) }
        }
        return y
    }

    func testEveryEncodingAndGroupingMatchesDecodeThenFusedMultiplyAdd() throws {
        let configs = [
            DeltaCodecConfig(), DeltaCodecConfig(), DeltaCodecConfig(quantization: .float16), DeltaCodecConfig(),
            DeltaCodecConfig(quantization: .int8(blockSize: 100)), DeltaCodecConfig(topKFraction: 0.05),
            DeltaCodecConfig(topKFraction: 0.02, quantization: .int8(blockSize: 16), zlibLevel: 1), DeltaCodecConfig(),
            DeltaCodecConfig(topKFraction: 0.1, quantization: .float16), DeltaCodecConfig(zlibLevel: 1),
        ]
        // A size with a ragged tail, and one large enough to be split across the worker pool.
        for count in [1_003, 70_001] {
            let rs = try records(count: count, configs: configs, seed: 41)
            let weights = (0..<rs.count).map { Float($0 * 37 % 11 + 1) }
            var rng = SeededRandom(seed: 42)
            let start = (0..<count).map { _ in rng.normal() }
            let expected = reference(rs, weights, start: start).map(\.bitPattern)
            var together = start
            together.withUnsafeMutableBufferPointer { DeltaFold.accumulate(rs, weights: weights, into: $0) }
            XCTAssertEqual(together.map(\.bitPattern), expected, "all records in one call, \(count) elements")
            var oneByOne = start
            for (r, w) in zip(rs, weights) { oneByOne.withUnsafeMutableBufferPointer { DeltaFold.accumulate(r, weight: w, into: $0) } }
            XCTAssertEqual(oneByOne.map(\.bitPattern), expected, "one record per call, \(count) elements")
            var split = start
            split.withUnsafeMutableBufferPointer { y in
                DeltaFold.accumulate(Array(rs[0..<3]), weights: Array(weights[0..<3]), into: y)
                DeltaFold.accumulate(Array(rs[3...]), weights: Array(weights[3...]), into: y)
            }
            XCTAssertEqual(split.map(\.bitPattern), expected, "two calls, \(count) elements")
        }
    }

    /// Folding a dense record piece by piece, as the decoder hands the pieces out, gives the
    /// whole record's bits, wherever the feeds cut it (inside a value too) and whatever the
    /// piece size, for every dense encoding; a large piece takes the parallel path.
    func testPiecesFoldToTheWholeRecordsBits() throws {
        let configs = [DeltaCodecConfig(), DeltaCodecConfig(quantization: .float16), DeltaCodecConfig(quantization: .int8(blockSize: 100)),
                       DeltaCodecConfig(quantization: .int8(blockSize: 1)), DeltaCodecConfig(zlibLevel: 1),
                       DeltaCodecConfig(quantization: .int8(blockSize: 64), zlibLevel: 1)]
        var rng = SeededRandom(seed: 44)
        for count in [5_003, 150_001] {
            for (k, config) in configs.enumerated() {
                let delta = DeltaTestSupport.randomDelta([("t", [count])], seed: 45 + UInt64(k), scale: 0.3)
                let bytes = try DeltaEncoder(config: config).encode(delta)
                let start = (0..<count).map { _ in rng.normal() }
                let reference = DeltaStreamDecoder(expectedShapes: ["t": [count]], maxBytes: 1 << 26, messageLength: bytes.count)
                var wholes: [DeltaRecord] = []
                try bytes.withUnsafeBytes { try reference.feed($0) { wholes.append($0.owned()) } }
                let whole = wholes[0]
                var expected = start
                expected.withUnsafeMutableBufferPointer { DeltaFold.accumulate(whole, weight: 7, into: $0) }
                let feedings: [(feeds: [Int], pieceBytes: Int)] = count > 100_000
                    ? [([bytes.count / 2, 0, 1 << 20], 1 << 20), ([65_537], 64 << 10)]   // one gathered half as a piece, then the rest
                    : [([1], 4), ([3], 13), ([7], 256), ([4_099], 1_000), ((0..<6).map { _ in 1 + rng.int(below: 3_000) }, 64 << 10)]
                for (feeds, pieceBytes) in feedings {
                    var y = start
                    var covered = 0
                    let decoder = DeltaStreamDecoder(expectedShapes: ["t": [count]], maxBytes: 1 << 26, messageLength: bytes.count, pieceBytes: pieceBytes)
                    var at = 0, f = 0
                    while at < bytes.count {
                        let n = min(feeds[f % feeds.count], bytes.count - at)
                        try bytes[at..<(at + n)].withUnsafeBytes { b in
                            // The first feed of the halves case gathers; every later one asks for pieces.
                            try decoder.feed(b, piecewise: !(count > 100_000 && f == 0 && feeds.count == 3), pieces: { piece in
                                XCTAssertEqual(piece.elements.lowerBound, covered, "pieces come in order, each once")
                                XCTAssertLessThanOrEqual(piece.elements.count, pieceBytes)
                                covered = piece.elements.upperBound
                                y.withUnsafeMutableBufferPointer { DeltaFold.accumulate(piece, weight: 7, into: $0) }
                            }) { record in
                                XCTAssertEqual(covered, 0, "a record comes whole or in pieces")
                                covered = record.elementCount
                                y.withUnsafeMutableBufferPointer { DeltaFold.accumulate(record, weight: 7, into: $0) }
                            }
                        }
                        at += n
                        f += 1
                    }
                    try decoder.finish()
                    XCTAssertEqual(covered, count)
                    XCTAssertEqual(y.map(\.bitPattern), expected.map(\.bitPattern), "\(config.label), \(count) elements, feeds \(feeds), pieces of \(pieceBytes)")
                }
            }
        }
    }

    func testADecodedTensorFoldsLikeItsFloat32Record() throws {
        let rs = try records(count: 999, configs: [DeltaCodecConfig()], seed: 43)
        let tensor = rs[0].decoded()
        var viaRecord = [Float](repeating: 0.5, count: 999), viaView = viaRecord
        viaRecord.withUnsafeMutableBufferPointer { DeltaFold.accumulate(rs[0], weight: 3, into: $0) }
        DeltaRecord.withView(of: tensor, name: "t") { view in viaView.withUnsafeMutableBufferPointer { DeltaFold.accumulate(view, weight: 3, into: $0) } }
        XCTAssertEqual(viaRecord.map(\.bitPattern), viaView.map(\.bitPattern))
    }
}
