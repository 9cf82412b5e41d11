import XCTest
import CohortCheckpoint
import CohortFederation
import CohortTensor
import Foundation

/// Central DP-FedAvg wired through the plan, the node's update path and the coordinator's
/// aggregation (phase 2).
final class CentralDPTests: XCTestCase {
    private func bigDelta(seed: UInt64) throws -> ModelDelta {
        var rng = SeededRandom(seed: seed)
        return try ModelDelta([("features.0.weight", Tensor(shape: [64, 32], data: (0..<2048).map { _ in rng.normal() * 3 })),
                               ("features.0.bias", Tensor(shape: [64], data: (0..<64).map { _ in rng.normal() })),
                               ("bn.running_var", Tensor(shape: [64], data: (0..<64).map { _ in rng.normal() * 10 }))])
    }

    /// The node's update path (`FederatedNode.encodeUpdate`) clips the whole update before
    /// encoding: the decoded delta's norm is ≤ C exactly for float32, and ≤ C plus int8's
    /// rounding slack (each value off by at most half a step, maxabs/254, so ≤ √d·C/254 in L2).
    func testNodeUpdatePathBoundsTheDecodedDeltaNormByTheClipNorm() throws {
        for (label, codec) in [("float32", DeltaCodecConfig()), ("int8+zlib", DeltaCodecConfig(quantization: .int8(blockSize: 64), zlibLevel: 1)),
                               ("float16", DeltaCodecConfig(quantization: .float16))] {
            for (seed, c) in [(1 as UInt64, 1.0), (2, 0.05), (3, 1000.0)] {
                let delta = try bigDelta(seed: seed)
                var plan = TrainingPlan()
                plan.codec = codec
                plan.privacy = PrivacyPlan(clipNorm: c, noiseMultiplier: 1)
                try plan.validate()
                var feedback = ErrorFeedback()
                let (bytes, preClip) = try FederatedNode.encodeUpdate(delta, plan: plan, feedback: &feedback)
                XCTAssertEqual(preClip!, delta.l2Norm, accuracy: 1e-9 * delta.l2Norm, "\(label): reports the norm before clipping")
                XCTAssertTrue(feedback.names.isEmpty, "\(label): no error-feedback residual under privacy")
                let decoded = try DeltaDecoder(expectedShapes: delta.shapes, maxBytes: 1 << 24).decode(bytes)
                let d = Double(delta.parameterCount)
                let slack: Double
                switch codec.quantization {
                case .none: slack = 0
                case .int8: slack = d.squareRoot() * c / 254
                case .float16: slack = d.squareRoot() * c * 0x1p-11   // half an ulp relative
                }
                XCTAssertLessThanOrEqual(decoded.l2Norm, c + slack, "\(label), C = \(c): decoded norm \(decoded.l2Norm)")
                if delta.l2Norm > c { XCTAssertGreaterThan(decoded.l2Norm, c * 0.9, "\(label): clipped, not zeroed") }
            }
        }
        // Without privacy the update is not clipped.
        var feedback = ErrorFeedback()
        let delta = try bigDelta(seed: 4)
        let (bytes, preClip) = try FederatedNode.encodeUpdate(delta, plan: TrainingPlan(), feedback: &feedback)
        XCTAssertNil(preClip)
        XCTAssertEqual(try DeltaDecoder(expectedShapes: delta.shapes, maxBytes: 1 << 24).decode(bytes).l2Norm, delta.l2Norm, accuracy: 1e-6 * delta.l2Norm)
    }

    func testPrivacySectionDecodesWithDefaultsAndIsValidated() throws {
        let none = try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"batchSize":8}"#.utf8))
        XCTAssertNil(none.privacy)
        let some = try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"privacy":{"targetEpsilon":8}}"#.utf8))
        XCTAssertEqual(some.privacy, PrivacyPlan(clipNorm: 1, noiseMultiplier: nil, delta: 1e-5, targetEpsilon: 8))
        XCTAssertNoThrow(try some.validate())
        let roundTrip = try JSONDecoder().decode(TrainingPlan.self, from: JSONEncoder().encode(some))
        XCTAssertEqual(roundTrip, some)
        func message(_ edit: (inout TrainingPlan) -> Void) -> String {
            var p = TrainingPlan()
            p.privacy = PrivacyPlan(noiseMultiplier: 1)
            edit(&p)
            do { try p.validate(); return "" } catch { return "\(error)" }
        }
        XCTAssertEqual(message { _ in }, "")
        XCTAssertTrue(message { $0.codec.topKFraction = 0.1 }.contains("topKFraction"))
        XCTAssertTrue(message { $0.strategy = "median" }.contains("strategy"))
        XCTAssertTrue(message { $0.privacy!.noiseMultiplier = nil }.contains("targetEpsilon"))
        XCTAssertTrue(message { $0.privacy!.clipNorm = 0 }.contains("privacy.clipNorm"))
        XCTAssertTrue(message { $0.privacy!.delta = 1 }.contains("privacy.delta"))
        XCTAssertEqual(message { $0.strategy = "fedbn"; $0.codec.quantization = .int8(blockSize: 256) }, "")
    }

    /// Every update is clipped again at the coordinator, weighted equally whatever its sample
    /// count, and the sum is divided by the number of sampled participants (fixed denominator),
    /// not by the number that arrived.
    func testDPFedAvgReclipsWeighsEquallyAndDividesByTheSampledCount() throws {
        let dp = DPFedAvg(clipNorm: 1, noiseMultiplier: 0, localNames: ["bn"])
        dp.participants = 4
        dp.begin(round: 1, global: ["w": Tensor(shape: [2], data: [10, 10]), "bn": Tensor(shape: [1], data: [0])])
        try dp.accumulate(try ModelDelta([("w", Tensor(shape: [2], data: [30, 40])), ("bn", Tensor(shape: [1], data: [5]))]), samples: 1000)
        try dp.accumulate(try ModelDelta([("w", Tensor(shape: [2], data: [0.5, 0]))]), samples: 1)
        XCTAssertEqual(dp.receivedNorms, [50, 0.5])
        let next = try dp.finish()
        XCTAssertEqual(next["w"]!.data[0], 10 + Float((0.6 + 0.5) / 4), accuracy: 1e-5)
        XCTAssertEqual(next["w"]!.data[1], 10 + Float(0.8 / 4), accuracy: 1e-5)
        XCTAssertEqual(next["bn"]!.data, [0], "FedBN's local tensors are not aggregated")
    }

    /// All-zero updates from 3 of 4 sampled nodes: the change to the global model is the noise
    /// alone, N(0, (σC/n)²) per coordinate with n = 4. 300k coordinates: the sample standard
    /// deviation's relative spread is 1/√(2N) ≈ 0.13 %, so the 1 % tolerance is ~8 sigma; the
    /// mean is checked at 5 standard errors. The noise comes from OpenSSL (`GaussianNoise.secure()`).
    func testCoordinatorNoiseHasTheStatedStandardDeviation() throws {
        let (sigma, c, n) = (1.3, 2.0, 4)
        let dp = DPFedAvg(clipNorm: c, noiseMultiplier: sigma)
        dp.participants = n
        let global = ["a": Tensor(shape: [200_000], data: [Float](repeating: 1, count: 200_000)),
                      "b": Tensor(shape: [100, 1000], data: [Float](repeating: -1, count: 100_000))]
        dp.begin(round: 1, global: global)
        for _ in 0..<3 {
            try dp.accumulate(try ModelDelta([("a", Tensor(shape: [200_000], data: [Float](repeating: 0, count: 200_000))),
                                              ("b", Tensor(shape: [100, 1000], data: [Float](repeating: 0, count: 100_000)))]), samples: 10)
        }
        let expected = sigma * c / Double(n)
        XCTAssertEqual(dp.meanNoiseStandardDeviation, expected, accuracy: 1e-15)
        let next = try dp.finish()
        let noise = next["a"]!.data.map { Double($0) - 1 } + next["b"]!.data.map { Double($0) + 1 }
        let count = Double(noise.count)
        let mean = noise.reduce(0, +) / count
        let sd = (noise.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 5 * expected / count.squareRoot())
        XCTAssertEqual(sd, expected, accuracy: 0.01 * expected)
    }
}
