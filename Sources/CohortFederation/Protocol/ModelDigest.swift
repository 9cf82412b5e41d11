import CCRC32C
import CohortCheckpoint
import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// The digest of a whole set of weights in a canonical order, carried in every MODEL and
/// EVALUATE header (`modelDigest`) so a node can check that the weights it rebuilt from a
/// delta, or received whole, are bit for bit the coordinator's (protocols/wire.md, "Model
/// deltas"). The threat is corruption (a bug, a bad copy): tampering is for TLS and the
/// handshake's HMAC. So the weights go through CRC-32C (the SSE4.2 instruction, memory speed)
/// in blocks, and only the short list of block CRCs through SHA-256.
public enum ModelDigest {
    /// Bytes of a tensor's float32 data per CRC-32C block of `hex` (the last may be shorter).
    public static let blockBytes = 1 << 20

    /// The protocol-4 digest, hex: SHA-256 over the tensors in ascending byte order of their
    /// UTF-8 names, each as u32 name length, the name, u32 rank, u64 per dimension, then the
    /// u32 CRC-32C of each `blockBytes` block of its float32 elements in order (none for an
    /// empty tensor), all little-endian.
    public static func hex(_ weights: [(name: String, value: Tensor)]) -> String {
        let hasher = SHA256()
        var crcs: [UInt8] = []
        for (name, t) in weights.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
            hasher.update(le(UInt32(name.utf8.count), bytes: 4) + Array(name.utf8) + le(UInt32(t.shape.count), bytes: 4))
            for d in t.shape { hasher.update(le(UInt64(d), bytes: 8)) }
            crcs.removeAll(keepingCapacity: true)
            t.data.withUnsafeBytes { b in
                var at = 0
                while at < b.count {
                    let n = min(blockBytes, b.count - at)
                    let crc = cohort_crc32c(0, b.baseAddress! + at, n)
                    withUnsafeBytes(of: crc.littleEndian) { crcs += $0 }
                    at += n
                }
            }
            hasher.update(crcs)
        }
        return hasher.finish().map { String(format: "%02x", $0) }.joined()
    }

    /// `hex` of a dictionary of tensors.
    public static func hex(_ weights: [String: Tensor]) -> String {
        hex(weights.map { (name: $0.key, value: $0.value) })
    }

    /// Protocol 3's digest (`modelDigest`), kept for comparison in benchmarks: hex SHA-256
    /// over the tensors in ascending byte order of their UTF-8 names, each as:
    /// u32 name length, the name, u32 rank, u64 per dimension, then the float32 elements, all
    /// little-endian.
    public static func sha256Hex(_ weights: [(name: String, value: Tensor)]) -> String {
        let hasher = SHA256()
        for (name, t) in weights.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
            hasher.update(le(UInt32(name.utf8.count), bytes: 4) + Array(name.utf8) + le(UInt32(t.shape.count), bytes: 4))
            for d in t.shape { hasher.update(le(UInt64(d), bytes: 8)) }
            t.data.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finish().map { String(format: "%02x", $0) }.joined()
    }

    /// `sha256Hex` of a dictionary of tensors.
    public static func sha256Hex(_ weights: [String: Tensor]) -> String {
        sha256Hex(weights.map { (name: $0.key, value: $0.value) })
    }

    /// Whether two tensors have the same shape and the same bits (unlike `==`, which treats
    /// 0 and -0 as equal and NaN as unequal to itself).
    public static func sameBits(_ a: Tensor, _ b: Tensor) -> Bool {
        guard a.shape == b.shape else { return false }
        // Shared storage (a tensor the round left alone, e.g. a frozen backbone) is equal at once.
        return a.data.withUnsafeBytes { x in b.data.withUnsafeBytes { y in
            x.count == 0 || x.baseAddress == y.baseAddress || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0
        } }
    }

    private static func le<T: FixedWidthInteger>(_ v: T, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
    }
}
