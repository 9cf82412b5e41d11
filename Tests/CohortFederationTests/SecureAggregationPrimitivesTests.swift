import XCTest
import CohortFederation
import CohortTensor
import Foundation

/// Fixed-point encoding, X25519, HKDF, the AES-CTR mask generator and Shamir sharing.
final class SecureAggregationPrimitivesTests: XCTestCase {
    private func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    // MARK: fixed point

    func testFixedPointSumsExactlyAndNeverWraps() throws {
        let fp = try FixedPointEncoding(range: 0.5, maxSummands: 10)
        XCTAssertEqual(fp.bound, Int32(Int(Int32.max) / 10))
        XCTAssertEqual(fp.scale, Double(fp.bound) / 0.5)
        // The extremes: ten updates of all +range (or all −range) sum to ±10·bound ≤ 2³¹ − 1.
        for extreme: Float in [0.5, -0.5, 7, -7] {
            let words = fp.encode([Float](repeating: extreme, count: 4))
            var sum = [UInt32](repeating: 0, count: 4)
            for _ in 0..<10 { for i in 0..<4 { sum[i] &+= words[i] } }
            XCTAssertEqual(Int(fp.integer(sum[0])), 10 * Int(fp.bound) * (extreme > 0 ? 1 : -1))
            XCTAssertEqual(Double(fp.decode(sum: sum)[0]), 10 * (extreme > 0 ? 0.5 : -0.5), accuracy: 1e-6)
        }
        // Random updates: the modular sum read as Int32 is the integer sum, and decodes within the bound.
        var rng = SeededRandom(seed: 4)
        for summands in [1, 3, 10] {
            let updates = (0..<summands).map { _ in (0..<2000).map { _ in rng.uniform(-0.5, 0.5) } }
            var modular = [UInt32](repeating: 0, count: 2000)
            var integer = [Int](repeating: 0, count: 2000)
            var float = [Double](repeating: 0, count: 2000)
            for u in updates {
                let e = fp.encode(u)
                for i in 0..<2000 {
                    modular[i] &+= e[i]
                    integer[i] += Int(Int32(bitPattern: e[i]))
                    float[i] += Double(u[i])
                }
            }
            let decoded = fp.decode(sum: modular)
            for i in 0..<2000 {
                XCTAssertEqual(Int(fp.integer(modular[i])), integer[i])
                XCTAssertLessThanOrEqual(abs(Double(decoded[i]) - float[i]), fp.decodeErrorBound(summands: summands, magnitude: abs(float[i])))
            }
        }
        XCTAssertThrowsError(try FixedPointEncoding(range: 0, maxSummands: 3))
        XCTAssertThrowsError(try FixedPointEncoding(range: 1, maxSummands: 0))
    }

    // MARK: key agreement

    func testX25519MatchesRFC7748() throws {
        let alice = try X25519KeyPair(privateKey: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let bob = try X25519KeyPair(privateKey: hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
        XCTAssertEqual(alice.publicKey, hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        XCTAssertEqual(bob.publicKey, hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        let shared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        XCTAssertEqual(try alice.sharedSecret(with: bob.publicKey), shared)
        XCTAssertEqual(try bob.sharedSecret(with: alice.publicKey), shared)
        XCTAssertEqual(try X25519KeyPair(privateKey: alice.privateKey).publicKey, alice.publicKey)
        XCTAssertThrowsError(try alice.sharedSecret(with: [UInt8](repeating: 0, count: 32)), "a small-order point is refused")
        XCTAssertThrowsError(try alice.sharedSecret(with: [1, 2, 3]))
        let random = CryptoRandom(seed: 1)
        let a = X25519KeyPair.generate(random: random), b = X25519KeyPair.generate(random: random)
        XCTAssertEqual(try a.sharedSecret(with: b.publicKey), try b.sharedSecret(with: a.publicKey))
    }

    func testHKDFMatchesRFC5869AndPairSecretsAreSymmetric() throws {
        let okm = KeyDerivation.hkdfSHA256(secret: [UInt8](repeating: 0x0b, count: 22), salt: Array(0...12),
                                           info: Array(0xf0...0xf9), length: 42)
        XCTAssertEqual(okm, hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
        let s = [UInt8](repeating: 7, count: 32)
        let uv = KeyDerivation.pairSecret(sharedSecret: s, purpose: .pairwiseMask, round: 3, 4, 9)
        XCTAssertEqual(uv, KeyDerivation.pairSecret(sharedSecret: s, purpose: .pairwiseMask, round: 3, 9, 4))
        XCTAssertNotEqual(uv, KeyDerivation.pairSecret(sharedSecret: s, purpose: .shareEncryption, round: 3, 4, 9))
        XCTAssertNotEqual(uv, KeyDerivation.pairSecret(sharedSecret: s, purpose: .pairwiseMask, round: 4, 4, 9))
        XCTAssertNotEqual(uv, KeyDerivation.pairSecret(sharedSecret: s, purpose: .pairwiseMask, round: 3, 4, 8))
    }

    // MARK: mask generator

    func testMaskGeneratorIsAES256CTR() {
        // AES-256 with the zero key encrypts the zero block to dc95c078a2408989ad48a21492842087 (FIPS-197 style KAT),
        // which is the first keystream block for IV 0.
        let words = MaskGenerator.mask(seed: [UInt8](repeating: 0, count: 32), count: 4)
        XCTAssertEqual(words, [0x78c0_95dc, 0x8989_40a2, 0x14a2_48ad, 0x8720_8492])
        let seed = (0..<32).map { UInt8($0) }
        let whole = MaskGenerator.mask(seed: seed, count: 100_003)
        let g = MaskGenerator(seed: seed)
        XCTAssertEqual(g.words(7) + g.words(99_996), whole, "the stream does not depend on how it is read")
        var v = (0..<100_003).map { UInt32($0) }
        MaskGenerator(seed: seed).add(to: &v)
        XCTAssertEqual(v[5], 5 &+ whole[5])
        MaskGenerator(seed: seed).subtract(from: &v)
        XCTAssertEqual(v, (0..<100_003).map { UInt32($0) })
    }

    func testMaskGeneratorThroughput() {
        let seed = [UInt8](repeating: 9, count: 32)
        var v = [UInt32](repeating: 0, count: 1 << 22)
        MaskGenerator(seed: seed).add(to: &v)  // warm up
        var best = Double.infinity
        for _ in 0..<5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            MaskGenerator(seed: seed).add(to: &v)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let rate = Double(v.count) / best
        print(String(format: "MaskGenerator: %.0f M words/s (%.2f GB/s of mask) expanding and adding 4M words", rate / 1e6, rate * 4 / 1e9))
        XCTAssertGreaterThan(rate, 50e6, "AES-256-CTR masking should run at hundreds of millions of words per second")
    }

    // MARK: Shamir

    func testShamirReconstructsFromAnyThresholdSubset() throws {
        let random = CryptoRandom(seed: 2)
        var rng = SeededRandom(seed: 2)
        for (t, n) in [(2, 2), (3, 5), (6, 10), (26, 50)] {
            let secret = random.bytes(32)
            let shamir = ShamirSecretSharing(threshold: t)
            let shares = shamir.share(secret, count: n, random: random)
            XCTAssertEqual(shares.map(\.x), (1...n).map { UInt32($0) })
            for _ in 0..<10 {
                let subset = Array(rng.permutation(n).prefix(t + rng.int(below: n - t + 1)).map { shares[$0] })
                XCTAssertEqual(try shamir.reconstruct(subset, length: 32), secret)
            }
            XCTAssertThrowsError(try shamir.reconstruct(Array(shares.prefix(t - 1)), length: 32))
        }
        // Node ids as points, far apart.
        let shamir = ShamirSecretSharing(threshold: 3)
        let secret = Array("thirty-two bytes of test secret!".utf8)
        let shares = shamir.share(secret, at: [7, 1999, 4_000_000_000, 12], random: random)
        XCTAssertEqual(try shamir.reconstruct([shares[3], shares[1], shares[2]], length: 32), secret)
        XCTAssertEqual(try ShamirSecretSharing(threshold: 2).reconstruct(
            ShamirSecretSharing(threshold: 2).share([1, 2, 3], count: 3, random: random), length: 3), [1, 2, 3])
    }

    func testShamirDetectsInconsistentShares() throws {
        let random = CryptoRandom(seed: 3)
        let shamir = ShamirSecretSharing(threshold: 3)
        let secret = random.bytes(32)
        var shares = shamir.share(secret, count: 5, random: random)
        shares[4] = ShamirShare(x: 5, values: shares[4].values.map { ($0 + 1) % ShamirSecretSharing.prime })
        XCTAssertThrowsError(try shamir.reconstruct(shares, length: 32)) { XCTAssertTrue("\($0)".contains("inconsistent")) }
        // With exactly t shares consistency cannot be checked. A garbage share (random values)
        // still almost surely breaks the chunk encoding (each chunk < 2⁵⁶, the padding zero:
        // a miss has probability about 2⁻²⁴) ...
        for trial in 0..<200 {
            var s = shamir.share(secret, count: 3, random: random)
            s[trial % 3] = ShamirShare(x: s[trial % 3].x, values: s[trial % 3].values.map { _ in random.next() % ShamirSecretSharing.prime })
            XCTAssertThrowsError(try shamir.reconstruct(s, length: 32), "trial \(trial)")
        }
        // ... but a small crafted offset moves the secret without breaking the encoding: why secure
        // aggregation checks a rebuilt seed against its commitment and a key against its public key.
        var s = shamir.share(secret, count: 3, random: random)
        s[2] = ShamirShare(x: 3, values: s[2].values.map { ($0 + 1) % ShamirSecretSharing.prime })
        let moved = try shamir.reconstruct(s, length: 32)
        XCTAssertNotEqual(moved, secret)
        XCTAssertThrowsError(try shamir.reconstruct([shares[0], shares[0], shares[1]], length: 32), "repeated points")
    }

    /// Fewer than t shares say nothing: their values are uniform in the field whatever the
    /// secret, and interpolating them as if they were enough gives an unrelated value.
    func testFewerThanThresholdSharesRevealNothing() throws {
        let random = CryptoRandom(seed: 5)
        let shamir = ShamirSecretSharing(threshold: 4)
        let zeros = [UInt8](repeating: 0, count: 32), ones = [UInt8](repeating: 0xFF, count: 32)
        let trials = 4000
        var histograms = [[Int]](repeating: [Int](repeating: 0, count: 16), count: 2)
        var matches = 0
        for trial in 0..<trials {
            for (k, secret) in [zeros, ones].enumerated() {
                let shares = shamir.share(secret, count: 6, random: random)
                let three = [shares[trial % 6], shares[(trial + 1) % 6], shares[(trial + 3) % 6]]
                for s in three { for v in s.values { histograms[k][Int(v >> 57)] += 1 } }  // top 4 of 61 bits
                if let guess = try? ShamirSecretSharing(threshold: 3).reconstruct(three, length: 32), guess == secret { matches += 1 }
            }
        }
        XCTAssertEqual(matches, 0, "t − 1 shares interpolated never give the secret back")
        // Each histogram: 60000 draws over 16 bins (the top bin holds 2⁵⁷ − 1 of the 2⁵⁷ values).
        // χ² with 15 degrees of freedom: 37.7 is its 0.1 % tail.
        for h in histograms {
            let n = Double(h.reduce(0, +)), expected = n / 16
            let chi2 = h.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
            XCTAssertLessThan(chi2, 37.7, "share values of one secret look uniform: \(h)")
        }
        let diff = zip(histograms[0], histograms[1]).reduce(0.0) { s, p in
            s + Double((p.0 - p.1) * (p.0 - p.1)) / Double(p.0 + p.1)
        }
        XCTAssertLessThan(diff, 37.7, "share values of the two secrets have the same distribution")
    }
}
