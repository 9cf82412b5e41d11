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
/// Samples are computed in double precision and rounded to float32. The radius of Box–Muller
/// comes from a uniform with an unbounded exponent (`standardNormalPair`), so the tail is not
/// cut off at 8.6 standard deviations as with a 53-bit uniform: it reaches 301 standard
/// deviations, beyond which the exact Gaussian has mass 2⁻⁶⁵⁵³⁷ (privacy.md, "Noise"). Like
/// every floating-point Gaussian this does not defend against Mironov's (2012)
/// least-significant-bit attacks; the spec says so.
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
        let random = self.random
        let (a, b) = Self.standardNormalPair { random.next() }
        spare = b
        return a
    }

    /// The most leading zero bits the radius's uniform counts (1 024 zero words in a row, which
    /// happens with probability 2⁻⁶⁵⁵³⁶): the radius is at most √(2·65 537·ln 2) ≈ 301.4.
    static let maxLeadingZeros = 1 << 16

    /// Two independent standard normals by Box–Muller from 64-bit words of `word`.
    ///
    /// The radius's uniform is u₁ = 2^−(k+1) · (1 + (m + ½)·2⁻⁵²): k, the number of leading zero
    /// bits of a stream of words (geometric, P(k) = 2^−(k+1), so u₁ falls in [2^−(k+1), 2^−k)
    /// with the probability a uniform does), capped at `maxLeadingZeros`; m, 52 fresh bits, its
    /// place within that binade. −log u₁ = (k+1)·ln 2 − log1p((m + ½)·2⁻⁵²) > 0 is computed
    /// without forming u₁, so it never underflows and log(0) cannot occur. The angle's uniform
    /// has 53 bits (it bounds nothing).
    static func standardNormalPair(_ word: () -> UInt64) -> (Double, Double) {
        var k = 0
        while k < maxLeadingZeros {
            let w = word()
            if w != 0 { k += w.leadingZeroBitCount; break }
            k += 64
        }
        k = min(k, maxLeadingZeros)
        let m = word() >> 12
        let minusLogU1 = Double(k + 1) * M_LN2 - log1p((Double(m) + 0.5) * 0x1p-52)
        let r = (2 * minusLogU1).squareRoot()
        let a = 2 * Double.pi * (Double(word() >> 11) * 0x1p-53)
        return (r * cos(a), r * sin(a))
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
