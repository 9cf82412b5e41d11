import XCTest
import CohortCheckpoint
import CohortFederation
import CohortTensor
import Foundation

/// Poisson sampling and adaptive clipping for private rounds (protocols/privacy.md, "Sampling"
/// and "Adaptive clipping").
final class PrivateRoundsTests: XCTestCase {
    /// 40 nodes, q = 0.3, 2 500 rounds from the CSPRNG: each node's inclusion count is
    /// Binomial(2500, 0.3) (sd 22.9), checked within 5 sd; the overall rate (100 000 draws,
    /// sd 0.00145) within 5 sd; and independence: the pair (node 0, node 1) is drawn together at
    /// rate q² = 0.09 (sd 0.0057) within 5 sd.
    func testPoissonSamplingIncludesEveryNodeIndependentlyAtRateQ() {
        let population = (0..<40).map { "node\($0)" }
        let (q, rounds) = (0.3, 2500)
        let random = CryptoRandom.system()
        var counts = [String: Int](), both = 0, total = 0
        var sizes = Set<Int>()
        for _ in 0..<rounds {
            let s = PoissonSampling.sample(population, rate: q, random: random)
            XCTAssertEqual(s, population.filter(s.contains), "the sample keeps population order, without repeats")
            for name in s { counts[name, default: 0] += 1 }
            if s.contains("node0") && s.contains("node1") { both += 1 }
            total += s.count
            sizes.insert(s.count)
        }
        let sd = (Double(rounds) * q * (1 - q)).squareRoot()
        for name in population { XCTAssertEqual(Double(counts[name] ?? 0), Double(rounds) * q, accuracy: 5 * sd, name) }
        XCTAssertEqual(Double(total) / Double(rounds * population.count), q, accuracy: 5 * (q * (1 - q) / Double(rounds * population.count)).squareRoot())
        XCTAssertEqual(Double(both) / Double(rounds), q * q, accuracy: 5 * (q * q * (1 - q * q) / Double(rounds)).squareRoot())
        XCTAssertGreaterThan(sizes.count, 10, "the sample's size varies (Poisson, not a fixed fraction): \(sizes.sorted())")
        XCTAssertEqual(PoissonSampling.sample(population, rate: 1, random: random), population, "q = 1 takes everyone")
    }

    /// Seeded streams are keyed by (seed, label, index): the same key draws the same sample (a
    /// resumed run samples what an uninterrupted one did), another round or seed does not.
    func testSeededSamplingIsReproduciblePerRound() {
        let population = (0..<64).map { "n\($0)" }
        func draw(_ seed: UInt64, _ round: Int) -> [String] {
            PoissonSampling.sample(population, rate: 0.5, random: CryptoRandom(seed: seed, label: "poisson-sample", index: round))
        }
        XCTAssertEqual(draw(7, 3), draw(7, 3))
        XCTAssertNotEqual(draw(7, 3), draw(7, 4))
        XCTAssertNotEqual(draw(7, 3), draw(8, 3))
        XCTAssertNotEqual(CryptoRandom(seed: 7, label: "a", index: 1).next(), CryptoRandom(seed: 7, label: "b", index: 1).next())
    }

    /// Under Poisson sampling the mean's denominator is q·N whatever arrived: two updates with
    /// q = 0.5, N = 5 are summed and divided by 2.5 (not by 2).
    func testFixedDenominatorUnderPoissonSamplingIsQTimesN() throws {
        let dp = DPFedAvg(clipNorm: 10, noiseMultiplier: 0)
        dp.participants = 2
        dp.expectedParticipants = 0.5 * 5
        dp.begin(round: 1, global: ["w": Tensor(shape: [2], data: [1, 1])])
        try dp.accumulate(try ModelDelta([("w", Tensor(shape: [2], data: [1, 2]))]), samples: 10)
        try dp.accumulate(try ModelDelta([("w", Tensor(shape: [2], data: [3, -2]))]), samples: 99)
        XCTAssertEqual(dp.denominator, 2.5)
        let next = try dp.finish()
        XCTAssertEqual(next["w"]!.data[0], 1 + 4 / 2.5, accuracy: 1e-6)
        XCTAssertEqual(next["w"]!.data[1], 1, accuracy: 1e-6)
    }

    /// A round that sampled nobody still releases a noise-only step over the plan's tensors,
    /// N(0, (σC/(qN))²) per coordinate (200 000 values: the 2 % tolerance is ~9 standard errors of
    /// the sample sd); without `noisedNames` it fails as before. Tensors kept local are untouched.
    func testARoundWithNoUpdateReleasesANoiseOnlyStep() throws {
        let (sigma, c, q, n) = (1.5, 0.5, 0.2, 10.0)
        let global = ["w": Tensor(shape: [200_000], data: [Float](repeating: 3, count: 200_000)), "bn": Tensor(shape: [1], data: [7])]
        let plain = DPFedAvg(clipNorm: c, noiseMultiplier: sigma)
        plain.expectedParticipants = q * n
        plain.begin(round: 1, global: global)
        XCTAssertThrowsError(try plain.finish())
        let dp = DPFedAvg(clipNorm: c, noiseMultiplier: sigma, localNames: ["bn"])
        dp.noisedNames = ["w"]
        dp.expectedParticipants = q * n
        dp.participants = 0
        dp.begin(round: 1, global: global)
        let next = try dp.finish()
        XCTAssertEqual(next["bn"]!.data, [7])
        let noise = next["w"]!.data.map { Double($0) - 3 }
        let mean = noise.reduce(0, +) / Double(noise.count)
        let sd = (noise.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(noise.count - 1)).squareRoot()
        XCTAssertEqual(sd, sigma * c / (q * n), accuracy: 0.02 * sigma * c / (q * n))
        XCTAssertEqual(dp.meanNoiseStandardDeviation, sigma * c / (q * n), accuracy: 1e-12)
    }

    /// The centred count: with σ_b = 0, m = 4 expected reports and 4 bits all 1, b̄ = 1; with
    /// no report b̄ = ½ (no information: C unchanged); 2 of 4 bits 1 gives ½.
    func testCentredBitCountUsesTheExpectedNumberOfReports() {
        var noise = GaussianNoise.seeded(1)
        var a = AdaptiveClipping(initialClipNorm: 2, learningRate: 0.2, countNoiseStandardDeviation: 0)
        XCTAssertEqual(a.update(centredBitSum: 4, reports: 4, expectedReports: 4, noise: &noise), 1, accuracy: 1e-12)
        XCTAssertEqual(a.clipNorm, 2 * exp(-0.1), accuracy: 1e-12)
        var b = AdaptiveClipping(initialClipNorm: 2, countNoiseStandardDeviation: 0)
        XCTAssertEqual(b.update(centredBitSum: 0, reports: 0, expectedReports: 4, noise: &noise), 0.5, accuracy: 1e-12)
        XCTAssertEqual(b.clipNorm, 2, accuracy: 1e-12)
        XCTAssertEqual(b.update(centredBitSum: 2, reports: 4, expectedReports: 4, noise: &noise), 0.5, accuracy: 1e-12)
        // Three of four sampled, all unclipped, m = 4: ½ + 1.5/4.
        XCTAssertEqual(b.update(centredBitSum: 3, reports: 3, expectedReports: 4, noise: &noise), 0.875, accuracy: 1e-12)
    }

    /// Norms log-normal (median e⁰ = 1 · e^{1.5·Φ⁻¹(γ)}), 200 nodes Poisson-sampled at q = 0.25 (m
    /// = 50, σ_b = m/20 = 2.5) for 300 rounds from C = 0.01: afterwards the fraction of the
    /// population's norms ≤ C is within 0.1 of γ for γ ∈ {0.2, 0.5, 0.9} (each round's noisy b̄ has
    /// sd ≈ 0.07 from sampling and noise, and C averages over the last ~1/η rounds).
    func testAdaptiveClipTracksTheTargetQuantileUnderPoissonSampling() {
        var rng = SeededRandom(seed: 3)
        let norms = (0..<200).map { _ in exp(1.5 * Double(rng.normal())) }
        let random = CryptoRandom(seed: 11)
        for gamma in [0.2, 0.5, 0.9] {
            var noise = GaussianNoise.seeded(UInt64(gamma * 100))
            let m = 0.25 * 200
            var clip = AdaptiveClipping(initialClipNorm: 0.01, targetQuantile: gamma, learningRate: 0.2, countNoiseStandardDeviation: m / 20)
            for _ in 0..<300 {
                let sampled = (0..<200).filter { _ in random.unitIntervalOpenAtZero() <= 0.25 }
                let bits = sampled.reduce(0) { $0 + clip.bit(forNorm: norms[$1]) }
                clip.update(centredBitSum: bits, reports: sampled.count, expectedReports: m, noise: &noise)
            }
            let below = Double(norms.filter { $0 <= clip.clipNorm }.count) / Double(norms.count)
            XCTAssertEqual(below, gamma, accuracy: 0.1, "γ = \(gamma): C = \(clip.clipNorm)")
        }
    }

    /// The update's noise multiplier under adaptive clipping exceeds the total z it is accounted
    /// with, and together with the count's noise spends exactly z: z_Δ⁻² + (2σ_b)⁻² = z⁻².
    func testUpdateNoiseMultiplierExceedsTheAccountedOne() throws {
        for (z, sigmaB) in [(0.5, 1.0), (1.0, 2.5), (1.2, 0.7), (3.0, 10.0)] {
            let zDelta = try AdaptiveClipping.deltaNoiseMultiplier(total: z, countNoiseStandardDeviation: sigmaB)
            XCTAssertGreaterThan(zDelta, z)
            XCTAssertEqual(1 / (zDelta * zDelta) + 1 / (4 * sigmaB * sigmaB), 1 / (z * z), accuracy: 1e-12)
        }
    }

    /// The plan's new fields decode with their defaults and are validated; Poisson sampling may
    /// not be combined with secure aggregation (not wired there), adaptive clipping may.
    func testSampleRateAndAdaptiveClippingInThePlan() throws {
        let plan = try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"privacy":{"noiseMultiplier":1,"sampleRate":0.25,"adaptiveClipping":{"targetQuantile":0.7}}}"#.utf8))
        XCTAssertEqual(plan.privacy?.sampleRate, 0.25)
        XCTAssertEqual(plan.privacy?.adaptiveClipping, AdaptiveClippingPlan(targetQuantile: 0.7, learningRate: 0.2, countNoise: nil))
        XCTAssertEqual(plan.privacy?.adaptiveClipping?.countNoiseStandardDeviation(expectedReports: 40), 2)
        XCTAssertNoThrow(try plan.validate())
        XCTAssertEqual(try JSONDecoder().decode(TrainingPlan.self, from: JSONEncoder().encode(plan)), plan)
        func message(_ edit: (inout TrainingPlan) -> Void) -> String {
            var p = plan
            edit(&p)
            do { try p.validate(); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { $0.privacy!.sampleRate = 0 }.contains("privacy.sampleRate must be in (0, 1]"))
        XCTAssertTrue(message { $0.privacy!.sampleRate = 1.5 }.contains("privacy.sampleRate"))
        XCTAssertTrue(message { $0.privacy!.adaptiveClipping!.targetQuantile = 2 }.contains("privacy.adaptiveClipping.targetQuantile"))
        XCTAssertTrue(message { $0.privacy!.adaptiveClipping!.countNoise = 0 }.contains("privacy.adaptiveClipping.countNoise"))
        XCTAssertTrue(message { $0.privacy!.adaptiveClipping = nil; $0.secureAggregation = SecureAggregationPlan() }.contains("sampleRate cannot be combined with secureAggregation"))
        XCTAssertEqual(message { $0.privacy!.sampleRate = nil; $0.secureAggregation = SecureAggregationPlan() }, "", "adaptive clipping runs under secure aggregation")
    }

    /// The default count noise σ_b = m/20 is checked at start against the smallest round the run
    /// may hold (min of minNodes and quorum), not the whole population: 40 known nodes would give
    /// σ_b = 2 > z/2, but a 2-node round gives 0.1, so the coordinator refuses to start.
    func testDefaultCountNoiseIsCheckedAgainstTheSmallestRound() throws {
        let names = (0..<40).map { "n\($0)" }
        func start(minNodes: Int, countNoise: Double?) -> String {
            do {
                let (_, cleanup) = try TinyFederation.coordinator(nodes: names) { config in
                    config.minNodes = minNodes
                    config.plan.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: 1)
                    config.plan.privacy!.adaptiveClipping = AdaptiveClippingPlan(targetQuantile: 0.5, learningRate: 0.2, countNoise: countNoise)
                }
                cleanup()
                return ""
            } catch { return "\(error)" }
        }
        XCTAssertTrue(start(minNodes: 2, countNoise: nil).contains("privacy.adaptiveClipping.countNoise"), start(minNodes: 2, countNoise: nil))
        XCTAssertEqual(start(minNodes: 30, countNoise: nil), "", "σ_b = 1.5 for 30 reports: 2σ_b > 1")
        XCTAssertEqual(start(minNodes: 2, countNoise: 1), "", "an explicit σ_b does not depend on the round's size")
    }
}
