import COpenSSL

/// The pseudo-random generator of secure aggregation: expands a 32-byte seed into a stream of
/// 32-bit words with AES-256 in counter mode (OpenSSL EVP, AES-NI where the CPU has it).
///
/// Key = the seed, IV = 16 zero bytes, plaintext = zeros; the keystream bytes are read as
/// little-endian `UInt32` words in order. Every seed is used for one stream only (seeds are
/// derived per round, per pair and per purpose), so the fixed IV is safe. Two generators with
/// the same seed produce the same words, on any machine.
public final class MaskGenerator {
    private let context: OpaquePointer
    private var zeros = [UInt8](repeating: 0, count: MaskGenerator.chunkBytes)
    private var chunk = [UInt32](repeating: 0, count: MaskGenerator.chunkBytes / 4)
    private static let chunkBytes = 1 << 15

    /// A generator at the start of the stream for `seed` (exactly 32 bytes).
    public init(seed: [UInt8]) {
        precondition(seed.count == 32, "a mask seed is 32 bytes, got \(seed.count)")
        guard let ctx = EVP_CIPHER_CTX_new() else { preconditionFailure("OpenSSL could not allocate a cipher context") }
        let iv = [UInt8](repeating: 0, count: 16)
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nil, seed, iv) == 1 else {
            EVP_CIPHER_CTX_free(ctx)
            preconditionFailure("OpenSSL could not initialise AES-256-CTR")
        }
        context = ctx
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Writes the next `buffer.count` keystream bytes into `buffer`.
    public func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var done = 0
        while done < buffer.count {
            let n = min(buffer.count - done, zeros.count)
            var written: Int32 = 0
            let ok = zeros.withUnsafeBufferPointer { z in
                EVP_EncryptUpdate(context, buffer.baseAddress!.advanced(by: done).assumingMemoryBound(to: UInt8.self),
                                  &written, z.baseAddress, Int32(n))
            }
            precondition(ok == 1 && Int(written) == n, "AES-256-CTR keystream failed")
            done += n
        }
    }

    /// The next `count` words of the stream.
    public func words(_ count: Int) -> [UInt32] {
        var out = [UInt32](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        for i in out.indices { out[i] = UInt32(littleEndian: out[i]) }
        return out
    }

    /// Adds the next `values.count` words of the stream to `values`, modulo 2³².
    public func add(to values: inout [UInt32]) { combine(&values, subtract: false) }

    /// Subtracts the next `values.count` words of the stream from `values`, modulo 2³².
    public func subtract(from values: inout [UInt32]) { combine(&values, subtract: true) }

    /// The first `count` words of the stream for `seed`.
    public static func mask(seed: [UInt8], count: Int) -> [UInt32] { MaskGenerator(seed: seed).words(count) }

    private func combine(_ values: inout [UInt32], subtract: Bool) {
        let total = values.count
        var offset = 0
        values.withUnsafeMutableBufferPointer { v in
            chunk.withUnsafeMutableBufferPointer { c in
                while offset < total {
                    let n = min(total - offset, c.count)
                    fill(UnsafeMutableRawBufferPointer(start: c.baseAddress, count: n * 4))
                    let dst = v.baseAddress! + offset, src = c.baseAddress!
                    if subtract {
                        for i in 0..<n { dst[i] &-= UInt32(littleEndian: src[i]) }
                    } else {
                        for i in 0..<n { dst[i] &+= UInt32(littleEndian: src[i]) }
                    }
                    offset += n
                }
            }
        }
    }
}
