import CZlib

/// One-shot zlib compression of byte buffers (through the system zlib).
public enum Zlib {
    /// Compresses `bytes` at `level` (1 fastest … 9 smallest).
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 1) -> [UInt8] {
        precondition((1...9).contains(level), "zlib level must be 1...9, got \(level)")
        var bound = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        guard let source = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), !bytes.isEmpty else {
            return [UInt8](repeating: 0, count: 1).withUnsafeBytes { compress($0, level: level, count: 0) }
        }
        let status = out.withUnsafeMutableBufferPointer { dst in
            compress2(dst.baseAddress!, &bound, source, uLong(bytes.count), level)
        }
        precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
        out.removeSubrange(Int(bound)...)
        return out
    }

    /// Compresses the first `count` bytes of a non-empty buffer (used for the empty input).
    private static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32, count: Int) -> [UInt8] {
        var bound = compressBound(uLong(count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        let status = out.withUnsafeMutableBufferPointer { dst in
            compress2(dst.baseAddress!, &bound, bytes.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(count), level)
        }
        precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
        out.removeSubrange(Int(bound)...)
        return out
    }

    /// Compresses an array of bytes.
    public static func compress(_ bytes: [UInt8], level: Int32 = 1) -> [UInt8] {
        bytes.withUnsafeBytes { compress($0, level: level) }
    }

    /// Decompresses `bytes` that must inflate to exactly `expectedCount` bytes; anything else
    /// (corrupt stream, wrong size) is an error. The size is known in advance from a header, so
    /// a hostile stream cannot make it allocate more than `expectedCount`.
    public static func decompress(_ bytes: UnsafeRawBufferPointer, expectedCount: Int) throws(ZlibError) -> [UInt8] {
        guard expectedCount >= 0 else { throw ZlibError("negative expected size \(expectedCount)") }
        var out = [UInt8](repeating: 0, count: max(expectedCount, 1))
        var produced = uLong(expectedCount)
        guard let source = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), !bytes.isEmpty else {
            throw ZlibError("empty zlib stream")
        }
        let status = out.withUnsafeMutableBufferPointer { dst in
            uncompress(dst.baseAddress!, &produced, source, uLong(bytes.count))
        }
        switch status {
        case Z_OK:
            guard Int(produced) == expectedCount else {
                throw ZlibError("inflated to \(produced) bytes, expected \(expectedCount)")
            }
        case Z_BUF_ERROR: throw ZlibError("stream inflates to more than the expected \(expectedCount) bytes, or is truncated")
        case Z_DATA_ERROR: throw ZlibError("corrupt zlib stream")
        case Z_MEM_ERROR: throw ZlibError("out of memory while inflating")
        default: throw ZlibError("zlib uncompress failed with status \(status)")
        }
        if expectedCount == 0 { return [] }
        return out
    }

    /// Decompresses an array of bytes to exactly `expectedCount` bytes.
    public static func decompress(_ bytes: [UInt8], expectedCount: Int) throws(ZlibError) -> [UInt8] {
        let result = bytes.withUnsafeBytes { b in Result { () throws(ZlibError) in try decompress(b, expectedCount: expectedCount) } }
        return try result.get()
    }
}

/// A zlib failure, described in one line.
public struct ZlibError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
