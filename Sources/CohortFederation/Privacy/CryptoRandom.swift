import CohortCheckpoint
import COpenSSL

/// Random bytes for privacy: either OpenSSL's CSPRNG (`RAND_bytes`), for real runs, or a
/// deterministic AES-256-CTR stream from a seed, for reproducible simulations and tests.
///
/// A seeded generator is cryptographically strong as a stream but its seed is a choice of the
/// run, so noise or keys drawn from it protect nothing against anyone who knows the seed: use
/// `system()` whenever real data is involved. A `RandomNumberGenerator`, so it also drives
/// `Int.random(in:using:)` and friends.
public final class CryptoRandom: RandomNumberGenerator {
    private let stream: MaskGenerator?
    private var buffer = [UInt8](repeating: 0, count: 4096)
    private var position = 4096

    /// True when the bytes come from a seed rather than from OpenSSL's CSPRNG.
    public var isDeterministic: Bool { stream != nil }

    private init(stream: MaskGenerator?) { self.stream = stream }

    /// Bytes from OpenSSL's CSPRNG (`RAND_bytes`).
    public static func system() -> CryptoRandom { CryptoRandom(stream: nil) }

    /// The deterministic stream AES-256-CTR(key = `seed`) (exactly 32 bytes).
    public convenience init(seed: [UInt8]) { self.init(stream: MaskGenerator(seed: seed)) }

    /// The deterministic stream keyed by SHA-256("cohort-crypto-random" ‖ `seed` as 8 bytes LE).
    public convenience init(seed: UInt64) {
        let h = SHA256()
        h.update(Array("cohort-crypto-random".utf8))
        h.update((0..<8).map { UInt8(truncatingIfNeeded: seed >> (8 * $0)) })
        self.init(seed: h.finish())
    }

    /// The deterministic stream keyed by SHA-256("cohort-crypto-random" ‖ `seed` as 8 bytes LE ‖
    /// `label` ‖ `index` as 8 bytes LE): one independent stream per (label, index), e.g. per
    /// purpose and round, so a resumed run draws exactly what an uninterrupted one would.
    public convenience init(seed: UInt64, label: String, index: Int) {
        let h = SHA256()
        h.update(Array("cohort-crypto-random".utf8))
        h.update((0..<8).map { UInt8(truncatingIfNeeded: seed >> (8 * $0)) })
        h.update(Array(label.utf8))
        h.update((0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: Int64(index)) >> (8 * $0)) })
        self.init(seed: h.finish())
    }

    /// Fills `out` with random bytes.
    public func fill(_ out: UnsafeMutableRawBufferPointer) {
        var done = 0
        while done < out.count {
            if position == buffer.count { refill() }
            let n = min(out.count - done, buffer.count - position)
            buffer.withUnsafeBytes { b in
                out.baseAddress!.advanced(by: done).copyMemory(from: b.baseAddress! + position, byteCount: n)
            }
            position += n
            done += n
        }
    }

    /// `count` random bytes.
    public func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }

    /// The next 64 random bits.
    public func next() -> UInt64 {
        var v: UInt64 = 0
        withUnsafeMutableBytes(of: &v) { fill($0) }
        return UInt64(littleEndian: v)
    }

    /// Uniform in (0, 1] with 53 bits (never 0, so its logarithm is finite).
    public func unitIntervalOpenAtZero() -> Double {
        Double((next() >> 11) + 1) * 0x1p-53
    }

    private func refill() {
        buffer.withUnsafeMutableBytes { b in
            if let stream {
                stream.fill(b)
            } else {
                precondition(RAND_bytes(b.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(b.count)) == 1,
                             "OpenSSL RAND_bytes failed: no secure randomness available")
            }
        }
        position = 0
    }
}
