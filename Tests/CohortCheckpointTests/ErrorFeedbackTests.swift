import CohortCheckpoint
import CohortTensor
import XCTest

final class ErrorFeedbackTests: XCTestCase {
    /// Over 50 rounds, Σ sent = Σ true − residual (float rounding aside), and the residual stays
    /// bounded: top-k keeps at least a fraction f of each tensor's largest entries, so
    /// ‖acc − topk(acc)‖² ≤ (1 − f)‖acc‖²; quantisation adds at most ε‖acc‖² with ε = 2^-22
    /// (float16) or blockSize/254² (int8, error ≤ scale/2 = maxabs/254 per element). With
    /// c = √(1 − f + ε): ‖r_t‖ ≤ c(‖d_t‖ + ‖r_{t−1}‖), hence ‖r_t‖ ≤ c/(1 − c) · max‖d‖.
    func testRunningSumOfSentTracksTheTrueSumWithinABoundedResidual() throws {
        let cases: [(DeltaCodecConfig, Double)] = [
            (DeltaCodecConfig(topKFraction: 0.1, quantization: .float16, zlibLevel: 1), 0.9 + 0x1p-22),
            (DeltaCodecConfig(topKFraction: 0.25, quantization: .int8(blockSize: 64)), 0.75 + 64.0 / (254 * 254)),
            (DeltaCodecConfig(topKFraction: 0.01, quantization: .int8(blockSize: 256), zlibLevel: 1), 0.99 + 256.0 / (254 * 254)),
        ]
        let shapes = ["w": [40, 50], "b": [37]]
        for (config, c2) in cases {
            let c = c2.squareRoot()
            XCTAssertLessThan(c, 1, config.label)
            let factor = c / (1 - c)
            let encoder = try DeltaEncoder(config: config)
            let decoder = DeltaDecoder(expectedShapes: shapes, maxBytes: 1 << 20)
            var feedback = ErrorFeedback()
            var rng = SeededRandom(seed: 11)
            let drift = shapes.mapValues { s in (0..<s.reduce(1, *)).map { _ in rng.normal() } }
            var trueSum = shapes.mapValues { [Double](repeating: 0, count: $0.reduce(1, *)) }
            var sentSum = trueSum, plainSum = trueSum
            var maxDeltaNorm = 0.0, totalDeltaNorm = 0.0, maxResidual = 0.0
            for round in 0..<50 {
                let delta = try ModelDelta(["w", "b"].map { name in
                    (name, Tensor(shape: shapes[name]!, data: drift[name]!.map { 0.01 * ($0 + 2 * rng.normal()) }))
                })
                maxDeltaNorm = max(maxDeltaNorm, delta.l2Norm)
                totalDeltaNorm += delta.l2Norm
                let sent = try decoder.decode(try encoder.encode(delta, feedback: &feedback))
                let plain = try decoder.decode(try encoder.encode(delta))
                var gap = 0.0
                for name in delta.names {
                    let r = feedback.residual(for: name)!.data
                    for i in r.indices {
                        trueSum[name]![i] += Double(delta[name]!.data[i])
                        sentSum[name]![i] += Double(sent[name]!.data[i])
                        plainSum[name]![i] += Double(plain[name]!.data[i])
                        let e = trueSum[name]![i] - sentSum[name]![i] - Double(r[i])
                        gap += e * e
                    }
                }
                XCTAssertLessThanOrEqual(gap.squareRoot(), 1e-5 * totalDeltaNorm, "\(config.label) round \(round): Σtrue − Σsent ≠ residual")
                maxResidual = max(maxResidual, feedback.l2Norm)
                XCTAssertLessThanOrEqual(feedback.l2Norm, 1.01 * factor * maxDeltaNorm, "\(config.label) round \(round)")
            }
            func distance(_ a: [String: [Double]], _ b: [String: [Double]]) -> Double {
                a.keys.reduce(0.0) { acc, k in acc + zip(a[k]!, b[k]!).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }.squareRoot()
            }
            let withFeedback = distance(trueSum, sentSum), without = distance(trueSum, plainSum)
            // At 1% an element is sent about once per 100 rounds, so 50 rounds only halve the gap.
            XCTAssertLessThan(withFeedback, without * (config.topKFraction! < 0.1 ? 0.7 : 0.2),
                              "\(config.label): feedback should track the running sum better than no feedback")
            print("\(config.label): max residual \(maxResidual), bound \(factor * maxDeltaNorm); |Σtrue − Σsent| \(withFeedback) with feedback, \(without) without")
            XCTAssertEqual(withFeedback, feedback.l2Norm, accuracy: 1e-5 * totalDeltaNorm)
        }
    }

    func testFeedbackIsUnchangedWhenEncodingFailsAndShapesAreChecked() throws {
        let encoder = try DeltaEncoder(config: DeltaCodecConfig(topKFraction: 0.5))
        var feedback = ErrorFeedback()
        _ = try encoder.encode(try ModelDelta([("a", Tensor(shape: [4], data: [1, 2, 3, 4])), ("b", Tensor(shape: [2], data: [1, 0]))]), feedback: &feedback)
        XCTAssertEqual(feedback.residual(for: "a")?.data, [1, 2, 0, 0])
        XCTAssertEqual(feedback.names, ["a", "b"])
        let before = feedback.residual(for: "a")
        let bad = try ModelDelta([("a", Tensor(shape: [4], data: [1, 1, 1, 1])), ("b", Tensor(shape: [2], data: [.infinity, 0]))])
        XCTAssertThrowsError(try encoder.encode(bad, feedback: &feedback)) {
            XCTAssertEqual("\($0)", "tensor 'b': delta + error-feedback residual is inf at element 0 (values must be finite)")
        }
        XCTAssertEqual(feedback.residual(for: "a"), before)
        XCTAssertThrowsError(try encoder.encode(try ModelDelta([("a", Tensor(shape: [2, 2]))]), feedback: &feedback)) {
            XCTAssertEqual("\($0)", "tensor 'a': error-feedback residual has shape [4], the delta has [2, 2] (reset the feedback after a model change)")
        }
        feedback.reset()
        XCTAssertEqual(feedback.names, [])
    }
}
