import XCTest
import CohortCheckpoint
import CohortFederation
import CohortTensor

/// Clipping, Gaussian noise and adaptive clipping (the node and coordinator halves of DP-FedAvg).
final class DifferentialPrivacyTests: XCTestCase {
    func testClippingBoundsEveryNormExactly() throws {
        var rng = SeededRandom(seed: 11)
        for trial in 0..<400 {
            let count = 1 + rng.int(below: 5000)
            let magnitude = Float(pow(10.0, Double(rng.int(below: 13)) - 6))  // 1e-6 … 1e6
            var v = (0..<count).map { _ in rng.normal() * magnitude }
            let c = Double(rng.uniform(0.01, 10))
            let before = DeltaClipper.l2Norm(v), original = v
            let reported = try DeltaClipper(clipNorm: c).clip(&v)
            XCTAssertEqual(reported, before, "clip returns the norm before clipping")
            let after = DeltaClipper.l2Norm(v)
            XCTAssertLessThanOrEqual(after, c, "trial \(trial): norm \(after) over the bound \(c)")
            if before <= c {
                XCTAssertEqual(v, original, "an update within the bound is untouched")
            } else {
                XCTAssertEqual(after, c, accuracy: 1e-6 * c, "a clipped update lands on the bound")
                let s = Float(c / before)
                for i in stride(from: 0, to: count, by: max(1, count / 50)) {
                    XCTAssertEqual(v[i], original[i] * s, accuracy: 1e-6 * abs(original[i] * s) + 1e-30, "clipping only scales")
                }
            }
        }
        var bad: [Float] = [1, .nan]
        XCTAssertThrowsError(try DeltaClipper(clipNorm: 1).clip(&bad))
    }

    func testClippingAModelDeltaUsesTheNormOverAllTensors() throws {
        let delta = try ModelDelta([("a", Tensor(shape: [2], data: [3, 0])), ("b", Tensor(shape: [1, 1], data: [4]))])
        let (clipped, norm) = try DeltaClipper(clipNorm: 1).clip(delta)
        XCTAssertEqual(norm, 5)
        XCTAssertEqual(clipped.names, ["a", "b"])
        XCTAssertEqual(clipped["b"]!.shape, [1, 1])
        XCTAssertEqual(clipped["a"]!.data[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(clipped["b"]!.data[0], 0.8, accuracy: 1e-6)
        XCTAssertLessThanOrEqual(clipped.l2Norm, 1)
        let (same, _) = try DeltaClipper(clipNorm: 10).clip(delta)
        XCTAssertEqual(same, delta)
    }

    /// 400k samples: the sample standard deviation's own spread is 1/√(2N) ≈ 0.11 %, so 1 % is a
    /// ~9-sigma tolerance; the mean's is s/√N, checked at 5 of those.
    func testNoiseHasTheStatedStandardDeviation() {
        for (label, made) in [("seeded", GaussianNoise.seeded(7)), ("system", GaussianNoise.secure())] {
            var noise = made
            let std = GaussianNoise.centralStandardDeviation(noiseMultiplier: 1.3, clipNorm: 0.5)
            XCTAssertEqual(std, 0.65)
            var v = [Float](repeating: 2, count: 400_000)
            noise.add(standardDeviation: std, to: &v)
            let n = Double(v.count)
            let mean = v.reduce(0.0) { $0 + Double($1) } / n
            let sd = (v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1)).squareRoot()
            XCTAssertEqual(mean, 2, accuracy: 5 * std / n.squareRoot(), label)
            XCTAssertEqual(sd, std, accuracy: 0.01 * std, label)
            let withinOne = Double(v.filter { abs(Double($0) - 2) <= std }.count) / n
            XCTAssertEqual(withinOne, 0.682689, accuracy: 0.004, "\(label): Gaussian shape (P(|z| ≤ 1))")
        }
        // Distributed DP: n shares of σC/√n sum to σC.
        let per = GaussianNoise.distributedStandardDeviation(noiseMultiplier: 1.3, clipNorm: 0.5, nodes: 25)
        XCTAssertEqual((25 * per * per).squareRoot(), 0.65, accuracy: 1e-12)
    }

    func testSeededNoiseIsReproducibleAndSystemNoiseIsNot() {
        var a = GaussianNoise.seeded(3), b = GaussianNoise.seeded(3), c = GaussianNoise.seeded(4)
        let xa = (0..<8).map { _ in a.next() }, xb = (0..<8).map { _ in b.next() }, xc = (0..<8).map { _ in c.next() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, xc)
        var s1 = GaussianNoise.secure(), s2 = GaussianNoise.secure()
        XCTAssertNotEqual((0..<4).map { _ in s1.next() }, (0..<4).map { _ in s2.next() })
        XCTAssertFalse(CryptoRandom.system().isDeterministic)
        XCTAssertTrue(CryptoRandom(seed: 1).isDeterministic)
    }

    func testAdaptiveClippingTracksTheTargetQuantile() {
        // Update norms uniform on [0, 10]: the γ-quantile is 10γ.
        for gamma in [0.3, 0.5, 0.8] {
            var clip = AdaptiveClipping(initialClipNorm: 0.5, targetQuantile: gamma, learningRate: 0.2,
                                        countNoiseStandardDeviation: 100.0 / 20)
            var noise = GaussianNoise.seeded(5)
            var rng = SeededRandom(seed: 9)
            for _ in 0..<400 {
                let bits = (0..<100).reduce(0) { s, _ in s + clip.bit(forNorm: Double(rng.uniform(0, 10))) }
                clip.update(bitSum: bits, reports: 100, noise: &noise)
            }
            XCTAssertEqual(clip.clipNorm, 10 * gamma, accuracy: 1.0, "γ = \(gamma)")
        }
        var c = AdaptiveClipping(initialClipNorm: 2, countNoiseStandardDeviation: 0)
        c.update(noisyFraction: 1)  // every update unclipped: shrink by e^(−0.2·0.5)
        XCTAssertEqual(c.clipNorm, 2 * exp(-0.1), accuracy: 1e-12)
        XCTAssertEqual(c.bit(forNorm: c.clipNorm), 1)
    }

    func testAdaptiveClippingNoiseSplit() throws {
        // z = 1 total with σ_b = 5 leaves z_Δ = (1 − 1/100)^(−1/2).
        XCTAssertEqual(try AdaptiveClipping.deltaNoiseMultiplier(total: 1, countNoiseStandardDeviation: 5),
                       1 / 0.99.squareRoot(), accuracy: 1e-12)
        XCTAssertThrowsError(try AdaptiveClipping.deltaNoiseMultiplier(total: 1, countNoiseStandardDeviation: 0.4))
    }
}
