import CohortTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Gaussian noise for DP-FedAvg, drawn by Box–Muller from a `CryptoRandom` (OpenSSL's CSPRNG in
/// real runs, a seeded AES-CTR stream in simulations).
///
/// Where it goes:
/// - **Central DP**: the coordinator adds N(0, (σC)²) to every coordinate of the *sum* of the
///   clipped updates (`centralStandardDeviation`).
/// - **Distributed DP**: each node of a secure round adds N(0, (σC)²/t) to its own clipped
///   update before masking, with t the round's secure-aggregation threshold
///   (`distributedStandardDeviation(nodes: t)`, called so by `SecureUpdateEncoding`). The round
///   cannot complete with fewer than t survivors, so the sum always carries at least N(0, (σC)²),
///   the accounted noise (more when more than t survive); nothing tops up missing variance.
///
/// Samples are computed in double precision and rounded to float32. Uniforms have 53 bits, so
/// the tails stop at about 8.6 standard deviations, and like every floating-point Gaussian this
/// does not defend against Mironov's (2012) least-significant-bit attacks; the spec says so.
public struct GaussianNoise {
    private let random: CryptoRandom
    private var spare: Double?

    /// Noise from `random`.
    public init(random: CryptoRandom) { self.random = random }

    /// Noise from OpenSSL's CSPRNG.
    public static func secure() -> GaussianNoise { GaussianNoise(random: .system()) }

    /// Reproducible noise for simulations (not private against anyone who knows `seed`).
    public static func seeded(_ seed: UInt64) -> GaussianNoise { GaussianNoise(random: CryptoRandom(seed: seed)) }

    /// A standard normal sample.
    public mutating func next() -> Double {
        if let s = spare { spare = nil; return s }
        let u1 = random.unitIntervalOpenAtZero(), u2 = random.unitIntervalOpenAtZero()
        let r = (-2 * log(u1)).squareRoot(), a = 2 * Double.pi * u2
        spare = r * sin(a)
        return r * cos(a)
    }

    /// Adds independent N(0, `standardDeviation`²) to every value.
    public mutating func add(standardDeviation: Double, to values: inout [Float]) {
        precondition(standardDeviation >= 0 && standardDeviation.isFinite, "noise standard deviation must be finite and ≥ 0")
        for i in values.indices { values[i] = Float(Double(values[i]) + standardDeviation * next()) }
    }

    /// Adds independent N(0, `standardDeviation`²) to every element of every tensor, in sorted
    /// name order (so a seed fixes which sample lands where).
    public mutating func add(standardDeviation: Double, to tensors: [String: Tensor]) -> [String: Tensor] {
        var out = tensors
        for name in tensors.keys.sorted() { add(standardDeviation: standardDeviation, to: &out[name]!.data) }
        return out
    }

    /// σC: the standard deviation added to the sum of clipped updates under central DP.
    public static func centralStandardDeviation(noiseMultiplier: Double, clipNorm: Double) -> Double {
        noiseMultiplier * clipNorm
    }

    /// σC/√n: each node's share under distributed DP when `nodes` = n; secure rounds pass their
    /// threshold t, so any t or more surviving shares sum to at least σC.
    public static func distributedStandardDeviation(noiseMultiplier: Double, clipNorm: Double, nodes: Int) -> Double {
        precondition(nodes >= 1, "distributed noise needs at least one node")
        return noiseMultiplier * clipNorm / Double(nodes).squareRoot()
    }
}
