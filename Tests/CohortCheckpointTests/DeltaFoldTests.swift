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

    func testADecodedTensorFoldsLikeItsFloat32Record() throws {
        let rs = try records(count: 999, configs: [DeltaCodecConfig()], seed: 43)
        let tensor = rs[0].decoded()
        var viaRecord = [Float](repeating: 0.5, count: 999), viaView = viaRecord
        viaRecord.withUnsafeMutableBufferPointer { DeltaFold.accumulate(rs[0], weight: 3, into: $0) }
        DeltaRecord.withView(of: tensor, name: "t") { view in viaView.withUnsafeMutableBufferPointer { DeltaFold.accumulate(view, weight: 3, into: $0) } }
        XCTAssertEqual(viaRecord.map(\.bitPattern), viaView.map(\.bitPattern))
    }
}
