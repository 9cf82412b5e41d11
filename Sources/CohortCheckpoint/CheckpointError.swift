/// Why a checkpoint or tensor file could not be read or written. Each case names what was
/// wrong and where, so a user can tell a truncated download from a corrupted disk from a file
/// written by a newer Cohort.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened, read, written or renamed.
    case io(path: String, reason: String)
    /// The first bytes are not this format's magic.
    case wrongMagic(path: String, found: String)
    /// Written by a newer format version than this build reads.
    case futureVersion(path: String, version: UInt32, supported: UInt32)
    /// The file ends before a declared field or payload.
    case truncated(path: String, offset: Int, needed: Int, fileSize: Int, what: String)
    /// A field holds an impossible value (size over a limit, unknown type code, bad JSON, ...).
    case corrupt(path: String, offset: Int, reason: String)
    /// The stored SHA-256 does not match the content.
    case checksumMismatch(path: String, stored: String, computed: String)
    /// The tensors do not fit the model (listing every problem).
    case mismatch(path: String, problems: [String])

    public var description: String {
        switch self {
        case let .io(path, reason): return "\(path): \(reason)"
        case let .wrongMagic(path, found): return "\(path): not a Cohort checkpoint (wrong magic \(found))"
        case let .futureVersion(path, v, s): return "\(path): format version \(v) is newer than this cohort reads (\(s)); upgrade cohort"
        case let .truncated(path, offset, needed, size, what):
            return "\(path): truncated: \(what) needs \(needed) bytes at offset \(offset), but the file ends at \(size)"
        case let .corrupt(path, offset, reason): return "\(path): corrupt at offset \(offset): \(reason)"
        case let .checksumMismatch(path, stored, computed):
            return "\(path): checksum mismatch (stored \(stored.prefix(16))…, computed \(computed.prefix(16))…): the file is corrupted"
        case let .mismatch(path, problems): return "\(path): tensors do not fit the model: " + problems.joined(separator: "; ")
        }
    }
}
