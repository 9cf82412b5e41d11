import XCTest
@testable import CohortFederation
import Foundation

/// Issue 18, point 6: the Box–Muller radius is no longer cut off at √(2·53·ln 2) ≈ 8.57 (a
/// 53-bit uniform's smallest value); the uniform's exponent is unbounded up to 2⁻⁶⁵⁵³⁷.
final class GaussianTailTests: XCTestCase {
    /// Replays `words`, then zeros.
    private func pair(_ words: [UInt64]) -> (Double, Double) {
        var i = 0
        return GaussianNoise.standardNormalPair {
            defer { i += 1 }
            return i < words.count ? words[i] : 0
        }
    }

    func testTheRadiusGoesFarBeyondWhatA53BitUniformAllows() {
        // 4 zero words and a word with 63 leading zeros: k = 319, u₁ ≈ 2⁻³²⁰; mantissa 0, angle 0.
        let (z, w) = pair([0, 0, 0, 0, 1, 0, 0])
        let expected = (2 * (320 * M_LN2 - log1p(0.5 * 0x1p-52))).squareRoot()
        XCTAssertEqual(z, expected, accuracy: 1e-9)
        XCTAssertGreaterThan(z, 21, "a 53-bit uniform stops at \((2 * 53 * M_LN2).squareRoot())")
        XCTAssertEqual(w, 0, accuracy: 1e-12)
    }

    func testAStreamOfZerosStopsAtTheCapWithAFiniteRadius() {
        let (z, _) = pair([])
        XCTAssertEqual(z, (2 * (Double(GaussianNoise.maxLeadingZeros + 1) * M_LN2 - log1p(0.5 * 0x1p-52))).squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(z, 301.4, accuracy: 0.1)
    }

    func testOrdinaryWordsGiveTheUsualBoxMuller() {
        // A first word with its top bit set: k = 0, u₁ = (1 + (m + ½)·2⁻⁵²)/2 in [½, 1).
        let m: UInt64 = 0x8_0000_0000_0000   // mantissa ½ → u₁ ≈ 0.75
        let (z, w) = pair([1 << 63, m << 12, 1 << 62])   // angle ¼ turn → (0, r)
        let r = (-2 * log(0.75)).squareRoot()
        XCTAssertEqual(z, 0, accuracy: 1e-9)
        XCTAssertEqual(w, r, accuracy: 1e-9)
    }

    func testTheRadiusSquaredIsExponentialWithMeanTwo() {
        // r²/2 = −log u₁ ~ Exp(1): check mean and P(r²/2 > 5) = e⁻⁵ over seeded draws.
        let random = CryptoRandom(seed: 11)
        let n = 200_000
        var sum = 0.0, beyond = 0
        for _ in 0..<n {
            let (a, b) = GaussianNoise.standardNormalPair { random.next() }
            let e = (a * a + b * b) / 2
            sum += e
            if e > 5 { beyond += 1 }
        }
        XCTAssertEqual(sum / Double(n), 1, accuracy: 5 / Double(n).squareRoot())
        let p = exp(-5.0)
        XCTAssertEqual(Double(beyond) / Double(n), p, accuracy: 5 * (p * (1 - p) / Double(n)).squareRoot())
    }
}
