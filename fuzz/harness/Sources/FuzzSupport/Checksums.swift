import CohortCheckpoint
import CohortTransport

/// Mutated files almost never keep a valid checksum, so a harness also tries each input with
/// its checksum recomputed: that gets the fuzzer past the check into the parsing behind it.
public enum Checksums {
    /// `bytes` with its last 4 bytes replaced by the little-endian CRC-32 of the rest (the
    /// tensor file's trailer), or nil when too short.
    public static func withCRC32Trailer(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 4 else { return nil }
        var out = bytes
        let crc = Frame.crc32(Array(bytes[..<(bytes.count - 4)]))
        for i in 0..<4 { out[bytes.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        return out
    }

    /// `bytes` with its last 32 bytes replaced by the SHA-256 of the rest (the checkpoint's
    /// trailer), or nil when too short.
    public static func withSHA256Trailer(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 32 else { return nil }
        let hash = SHA256()
        hash.update(Array(bytes[..<(bytes.count - 32)]))
        return Array(bytes[..<(bytes.count - 32)]) + hash.finish()
    }

    /// A frame stream with each frame's CRC recomputed (walking the headers' lengths), so
    /// mutated payloads reach the parsers behind the CRC check.
    public static func withFrameCRCs(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        var at = 0
        while at + Frame.headerSize <= out.count {
            let length = Int(out[at + 8]) | Int(out[at + 9]) << 8 | Int(out[at + 10]) << 16 | Int(out[at + 11]) << 24
            let start = at + Frame.headerSize
            guard length <= out.count - start else { break }
            let crc = Frame.crc32(Array(out[start..<(start + length)]))
            for i in 0..<4 { out[at + 12 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
            at = start + length
        }
        return out
    }
}

extension Checksums {
    /// The CRC-32 of `bytes`.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 { Frame.crc32(bytes) }
}
