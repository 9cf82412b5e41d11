/// One node's share of a secret: the sharing polynomials evaluated at `x`.
public struct ShamirShare: Sendable, Equatable, Codable {
    /// The evaluation point (the holder's node id, ≥ 1).
    public let x: UInt32
    /// One field element per 7-byte chunk of the secret, each in 0..<2⁶¹ − 1.
    public let values: [UInt64]

    public init(x: UInt32, values: [UInt64]) {
        self.x = x
        self.values = values
    }
}

/// Shamir's t-of-n secret sharing of byte strings over the prime field GF(2⁶¹ − 1).
///
/// The secret is cut into 7-byte chunks (little-endian, the last one zero-padded); each chunk
/// c < 2⁵⁶ is the constant term of its own random polynomial of degree t − 1 with uniform
/// coefficients, and a share at x ≥ 1 holds every polynomial's value at x. Any t shares give the
/// secret back by Lagrange interpolation at 0; any t − 1 shares are uniformly distributed whatever
/// the secret (perfect secrecy). A 32-byte secret is 5 field elements (40 bytes) per share.
///
/// Shares cannot be authenticated by the field alone. With more than t shares, `reconstruct`
/// checks that all of them lie on one polynomial and throws otherwise; with exactly t, a wrong
/// share gives a wrong secret, which callers must catch with a check of their own (secure
/// aggregation compares a rebuilt key with its public key and a rebuilt seed with its commitment).
public struct ShamirSecretSharing: Sendable, Equatable {
    /// Bytes per field element.
    public static let chunkBytes = 7
    /// The field's prime, 2⁶¹ − 1.
    public static let prime: UInt64 = PrimeField61.p

    /// t: shares needed to reconstruct.
    public let threshold: Int

    /// A t-of-n scheme; t ≥ 1.
    public init(threshold: Int) {
        precondition(threshold >= 1, "a Shamir threshold must be ≥ 1, got \(threshold)")
        self.threshold = threshold
    }

    /// Shares of `secret` at the points `xs` (distinct, ≥ 1, at least t of them), polynomial
    /// coefficients drawn from `random`.
    public func share(_ secret: [UInt8], at xs: [UInt32], random: CryptoRandom) -> [ShamirShare] {
        precondition(xs.count >= threshold, "\(xs.count) shares cannot reach threshold \(threshold)")
        precondition(Set(xs).count == xs.count && !xs.contains(0), "share points must be distinct and non-zero")
        let chunks = Self.chunks(secret)
        // coefficients[k][j]: chunk k's polynomial, coefficient of x^j (j = 0 is the chunk).
        let coefficients = chunks.map { c in [c] + (1..<threshold).map { _ in PrimeField61.random(random) } }
        return xs.map { x in
            ShamirShare(x: x, values: coefficients.map { Self.evaluate($0, at: UInt64(x)) })
        }
    }

    /// Shares of `secret` at x = 1…`count`.
    public func share(_ secret: [UInt8], count: Int, random: CryptoRandom) -> [ShamirShare] {
        share(secret, at: (1...count).map { UInt32($0) }, random: random)
    }

    /// The secret of `length` bytes from at least t shares. Throws for too few shares, repeated
    /// or zero points, malformed shares, shares that do not lie on one polynomial (checked when
    /// more than t are given), or a result that is not a valid chunk encoding.
    public func reconstruct(_ shares: [ShamirShare], length: Int) throws(PrivacyError) -> [UInt8] {
        let chunkCount = (length + Self.chunkBytes - 1) / Self.chunkBytes
        guard shares.count >= threshold else {
            throw PrivacyError("\(shares.count) shares are fewer than the threshold \(threshold)")
        }
        guard Set(shares.map(\.x)).count == shares.count, !shares.contains(where: { $0.x == 0 }) else {
            throw PrivacyError("shares must have distinct, non-zero points")
        }
        guard shares.allSatisfy({ $0.values.count == chunkCount && $0.values.allSatisfy { $0 < Self.prime } }) else {
            throw PrivacyError("a share does not hold \(chunkCount) field elements below 2⁶¹ − 1")
        }
        let basis = Array(shares.prefix(threshold))
        let atZero = Self.lagrangeWeights(basis.map { UInt64($0.x) }, at: 0)
        var chunks = [UInt64](repeating: 0, count: chunkCount)
        for k in 0..<chunkCount {
            for (i, s) in basis.enumerated() { chunks[k] = PrimeField61.add(chunks[k], PrimeField61.mul(atZero[i], s.values[k])) }
        }
        for extra in shares.dropFirst(threshold) {
            let w = Self.lagrangeWeights(basis.map { UInt64($0.x) }, at: UInt64(extra.x))
            for k in 0..<chunkCount {
                var y: UInt64 = 0
                for (i, s) in basis.enumerated() { y = PrimeField61.add(y, PrimeField61.mul(w[i], s.values[k])) }
                guard y == extra.values[k] else {
                    throw PrivacyError("shares are inconsistent: the share at x = \(extra.x) is not on the polynomial of the others")
                }
            }
        }
        return try Self.bytes(chunks, length: length)
    }

    static func chunks(_ secret: [UInt8]) -> [UInt64] {
        stride(from: 0, to: secret.count, by: chunkBytes).map { start in
            var c: UInt64 = 0
            for (j, b) in secret[start..<min(start + chunkBytes, secret.count)].enumerated() { c |= UInt64(b) << (8 * j) }
            return c
        }
    }

    static func bytes(_ chunks: [UInt64], length: Int) throws(PrivacyError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(chunks.count * chunkBytes)
        for c in chunks {
            guard c >> 56 == 0 else { throw PrivacyError("reconstructed value is not a 7-byte chunk: the shares are wrong") }
            for j in 0..<chunkBytes { out.append(UInt8(truncatingIfNeeded: c >> (8 * j))) }
        }
        guard out[length...].allSatisfy({ $0 == 0 }) else { throw PrivacyError("reconstructed secret has non-zero padding: the shares are wrong") }
        return Array(out[..<length])
    }

    static func evaluate(_ coefficients: [UInt64], at x: UInt64) -> UInt64 {
        var y: UInt64 = 0
        for c in coefficients.reversed() { y = PrimeField61.add(PrimeField61.mul(y, x), c) }
        return y
    }

    /// Lagrange basis weights ℓ_i(point) for the nodes `xs`.
    static func lagrangeWeights(_ xs: [UInt64], at point: UInt64) -> [UInt64] {
        xs.indices.map { i in
            var num: UInt64 = 1, den: UInt64 = 1
            for j in xs.indices where j != i {
                num = PrimeField61.mul(num, PrimeField61.sub(point, xs[j]))
                den = PrimeField61.mul(den, PrimeField61.sub(xs[i], xs[j]))
            }
            return PrimeField61.mul(num, PrimeField61.inverse(den))
        }
    }
}
