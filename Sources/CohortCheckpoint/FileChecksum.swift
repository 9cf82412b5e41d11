import CCRC32C

/// The checksum of a checkpoint file: SHA-256 in format version 1, CRC-32C from version 2.
///
/// The threat a checkpoint's checksum guards against is corruption (a bad disk, a cut copy),
/// not tampering (that is the job of the handshake's HMAC and TLS): CRC-32C with the SSE4.2
/// instruction runs at memory speed (about 10 GB/s here) where SHA-256 ran at 220 MB/s on this
/// CPU, and it detects every burst error of up to 32 bits and any 1-3 bit errors in files of
/// this size. A reader does not know the version until it has read it: bytes fed before `select`
/// are held (the magic and version, 12 bytes) and fed to the chosen checksum then.
final class FileChecksum {
    enum Kind: Sendable, Equatable {
        case sha256
        case crc32c
        /// Nothing is computed (files that carry no checksum of this kind).
        case off

        /// Bytes of the stored checksum.
        var byteCount: Int {
            switch self {
            case .sha256: return 32
            case .crc32c: return 4
            case .off: return 0
            }
        }
    }

    private(set) var kind: Kind?
    private var sha: SHA256?
    private var crc: UInt32 = 0
    private var held: [UInt8] = []

    /// A checksum of a known kind, or (nil) one chosen later with `select`.
    init(_ kind: Kind? = nil) {
        if let kind { select(kind) }
    }

    /// Chooses the kind and feeds it what was held.
    func select(_ kind: Kind) {
        self.kind = kind
        if kind == .sha256 { sha = SHA256() }
        let pending = held
        held = []
        pending.withUnsafeBytes { update($0) }
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        switch kind {
        case nil: held += bytes
        case .sha256?: sha?.update(bytes)
        case .crc32c?: crc = cohort_crc32c(crc, base, bytes.count)
        case .off?: return
        }
    }

    /// Continues a CRC-32C over `length` bytes whose own CRC-32C (from 0) is `crc`, computed
    /// elsewhere (e.g. on other threads). Only for a `.crc32c` checksum.
    func append(crc part: UInt32, length: Int) {
        guard kind == .crc32c, length > 0 else { return }
        crc = cohort_crc32c_combine(crc, part, UInt64(length))
    }

    func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The stored form: the 32-byte digest, or the CRC as 4 little-endian bytes.
    func finish() -> [UInt8] {
        switch kind {
        case .sha256?: return sha?.finish() ?? []
        case .crc32c?: return crc.littleEndianBytes
        case .off?, nil: return []
        }
    }

    /// CRC-32C of `bytes` (continuing from `crc`), as the checkpoint format computes it.
    static func crc32c(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        return cohort_crc32c(crc, base, bytes.count)
    }
}
