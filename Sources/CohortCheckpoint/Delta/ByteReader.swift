/// Bounds-checked little-endian reads from an untrusted byte buffer. Every read names what it
/// was reading, so a short buffer is reported as "truncated" with the field and offset.
struct ByteReader {
    let base: UnsafeRawPointer?
    let count: Int
    /// Added to offsets in error messages (so errors count from the start of the message).
    let reportedOrigin: Int
    /// Whether offsets are reported as body offsets.
    let inBody: Bool
    /// The tensor being read, for error messages.
    var tensor: String?
    private(set) var offset = 0

    init(_ buffer: UnsafeRawBufferPointer, reportedOrigin: Int, inBody: Bool) {
        base = buffer.baseAddress
        count = buffer.count
        self.reportedOrigin = reportedOrigin
        self.inBody = inBody
    }

    var remaining: Int { count - offset }

    /// Where zero-byte reads of an empty buffer point (never dereferenced).
    nonisolated(unsafe) private static let empty = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

    /// An error at the current offset (or at `at`, relative to this buffer).
    func error(_ problem: String, at: Int? = nil) -> DeltaDecodeError {
        DeltaDecodeError(problem, tensor: tensor, offset: reportedOrigin + (at ?? offset), inBody: inBody)
    }

    /// Throws unless `n` more bytes are available for `what`.
    func need(_ n: Int, for what: String) throws(DeltaDecodeError) {
        guard n <= remaining else {
            throw error("truncated: \(what) needs \(n) bytes, only \(remaining) left")
        }
    }

    /// The next `n` bytes, after a bounds check.
    mutating func take(_ n: Int, for what: String) throws(DeltaDecodeError) -> UnsafeRawPointer {
        try need(n, for: what)
        guard let base else { return UnsafeRawPointer(Self.empty) }   // n == 0 on an empty buffer
        let p = base + offset
        offset += n
        return p
    }

    mutating func u8(_ what: String) throws(DeltaDecodeError) -> UInt8 {
        try take(1, for: what).load(as: UInt8.self)
    }
    mutating func u16(_ what: String) throws(DeltaDecodeError) -> UInt16 {
        UInt16(littleEndian: try take(2, for: what).loadUnaligned(as: UInt16.self))
    }
    mutating func u32(_ what: String) throws(DeltaDecodeError) -> UInt32 {
        UInt32(littleEndian: try take(4, for: what).loadUnaligned(as: UInt32.self))
    }
    mutating func u64(_ what: String) throws(DeltaDecodeError) -> UInt64 {
        UInt64(littleEndian: try take(8, for: what).loadUnaligned(as: UInt64.self))
    }
}
