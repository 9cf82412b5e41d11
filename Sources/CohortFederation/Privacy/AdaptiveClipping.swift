#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially private learning
/// with adaptive clipping"): the clip norm C follows a target quantile γ of the nodes' update
/// norms, learned from a privately estimated count.
///
/// Each round every sampled node reports one bit, b = 1 if ‖Δ‖ ≤ C (before clipping) else 0.
/// The coordinator adds Gaussian noise N(0, σ_b²) to the sum of the bits, divides by the number
/// of reports m (the expected number, for a fixed denominator), and moves C geometrically:
///
///     b̄ = (Σ b + N(0, σ_b²)) / m,     C ← C · exp(−η (b̄ − γ)).
///
/// The count is itself a Gaussian mechanism on the same nodes: to keep the total noise multiplier
/// at z, the update's noise multiplier must be raised to `deltaNoiseMultiplier(total:countNoise:)`.
/// The paper's defaults: γ = 0.5, η = 0.2, σ_b = m / 20.
public struct AdaptiveClipping: Sendable, Equatable, Codable {
    /// The current clip norm C.
    public private(set) var clipNorm: Double
    /// γ: the fraction of updates that should end up unclipped.
    public let targetQuantile: Double
    /// η: the geometric step size.
    public let learningRate: Double
    /// σ_b: standard deviation of the noise added to the sum of the bits.
    public let countNoiseStandardDeviation: Double

    /// Starts at `initialClipNorm`. γ must lie in [0, 1]; η ≥ 0; σ_b ≥ 0.
    public init(initialClipNorm: Double, targetQuantile: Double = 0.5, learningRate: Double = 0.2,
                countNoiseStandardDeviation: Double) {
        precondition(initialClipNorm > 0 && initialClipNorm.isFinite, "initial clip norm must be positive and finite")
        precondition(targetQuantile >= 0 && targetQuantile <= 1, "target quantile must be in [0, 1], got \(targetQuantile)")
        precondition(learningRate >= 0 && learningRate.isFinite, "clip learning rate must be finite and ≥ 0")
        precondition(countNoiseStandardDeviation >= 0, "count noise must be ≥ 0")
        clipNorm = initialClipNorm
        self.targetQuantile = targetQuantile
        self.learningRate = learningRate
        self.countNoiseStandardDeviation = countNoiseStandardDeviation
    }

    /// The bit a node reports for an update of pre-clip norm `norm`: 1 if `norm` ≤ C, else 0.
    public func bit(forNorm norm: Double) -> Int { norm <= clipNorm ? 1 : 0 }

    /// The coordinator's step: noises the sum of the `reports` bits, updates C, and returns the
    /// noisy fraction b̄ it used. Uncentred bits have sensitivity 1, twice what
    /// `deltaNoiseMultiplier` assumes: private rounds use `update(centredBitSum:…)`.
    @discardableResult
    public mutating func update(bitSum: Int, reports: Int, noise: inout GaussianNoise) -> Double {
        precondition(reports > 0, "adaptive clipping needs at least one report")
        let noisy = (Double(bitSum) + countNoiseStandardDeviation * noise.next()) / Double(reports)
        update(noisyFraction: noisy)
        return noisy
    }

    /// The coordinator's step with centred bits, as Cohort's rounds use it: each of the
    /// `reports` bits contributes b − ½ (a node that sends nothing contributes 0, so one node
    /// moves the sum by at most ½), the sum is noised with N(0, σ_b²), and
    ///
    ///     b̄ = ½ + (Σ (b − ½) + N(0, σ_b²)) / m,
    ///
    /// with m the *expected* number of reports (q·N under Poisson sampling), so b̄ does not depend
    /// on how many nodes were sampled except through their bits. Updates C; returns b̄.
    @discardableResult
    public mutating func update(centredBitSum bitSum: Int, reports: Int, expectedReports m: Double, noise: inout GaussianNoise) -> Double {
        precondition(m > 0, "adaptive clipping needs a positive expected number of reports")
        let centred = Double(bitSum) - Double(reports) / 2
        let noisy = 0.5 + (centred + countNoiseStandardDeviation * noise.next()) / m
        update(noisyFraction: noisy)
        return noisy
    }

    /// C ← C · exp(−η (b̄ − γ)) for an already noised fraction b̄.
    public mutating func update(noisyFraction: Double) {
        clipNorm *= exp(-learningRate * (noisyFraction - targetQuantile))
    }

    /// The update's noise multiplier z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) that, together with the bit
    /// count's noise σ_b (the bits, centred, have sensitivity ½), spends the same privacy as a
    /// single Gaussian mechanism with multiplier z (Andrew et al. 2021, §3.1). Throws when σ_b is
    /// too small: 2σ_b must exceed z.
    public static func deltaNoiseMultiplier(total z: Double, countNoiseStandardDeviation sigmaB: Double) throws(PrivacyError) -> Double {
        guard z > 0 else { throw PrivacyError("noise multiplier must be positive, got \(z)") }
        guard 2 * sigmaB > z else {
            throw PrivacyError("count noise σ_b = \(sigmaB) is too small for a total noise multiplier \(z): 2σ_b must exceed it")
        }
        return 1 / (1 / (z * z) - 1 / (4 * sigmaB * sigmaB)).squareRoot()
    }
}
