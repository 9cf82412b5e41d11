/// Arithmetic modulo the Mersenne prime p = 2⁶¹ − 1, the field of `ShamirSecretSharing`.
/// Values are canonical: always in 0..<p.
enum PrimeField61 {
    static let p: UInt64 = (1 << 61) - 1

    @inline(__always) static func reduce(_ x: UInt64) -> UInt64 {
        let r = (x & p) &+ (x >> 61)
        return r >= p ? r &- p : r
    }

    @inline(__always) static func add(_ a: UInt64, _ b: UInt64) -> UInt64 { reduce(a &+ b) }

    @inline(__always) static func sub(_ a: UInt64, _ b: UInt64) -> UInt64 { reduce(a &+ (p &- b)) }

    @inline(__always) static func mul(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: b)
        // a·b = high·2⁶⁴ + low and 2⁶⁴ ≡ 2³ (mod p), 2⁶¹ ≡ 1 (mod p).
        return reduce((low & p) &+ (low >> 61) &+ (high << 3))
    }

    static func pow(_ base: UInt64, _ exponent: UInt64) -> UInt64 {
        var result: UInt64 = 1, b = base, e = exponent
        while e > 0 {
            if e & 1 == 1 { result = mul(result, b) }
            b = mul(b, b)
            e >>= 1
        }
        return result
    }

    /// The multiplicative inverse of a non-zero element (Fermat: a^(p−2)).
    static func inverse(_ a: UInt64) -> UInt64 {
        precondition(a != 0, "zero has no inverse in GF(2⁶¹ − 1)")
        return pow(a, p - 2)
    }

    /// A uniform element, by rejection from 61-bit draws.
    static func random(_ rng: CryptoRandom) -> UInt64 {
        while true {
            let r = rng.next() & p
            if r < p { return r }
        }
    }
}
