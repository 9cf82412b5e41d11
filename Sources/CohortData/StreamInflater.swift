import CZlib

/// Incremental inflation: input arrives in pieces, output goes where the caller wants it, so a
/// compressed message or archive entry is decoded as it comes. Reads a zlib stream (RFC 1950:
/// delta bodies, checkpoints) or raw deflate (RFC 1951: what ZIP's method 8 stores).
public final class StreamInflater {
    /// The framing of the compressed bytes.
    public enum Format: Sendable {
        /// RFC 1950: a zlib header and an Adler-32 trailer.
        case zlib
        /// RFC 1951: bare deflate blocks.
        case raw
    }

    private let stream: UnsafeMutablePointer<z_stream>
    private let format: Format
    /// Whether the stream's end has been reached (with a correct Adler-32 for zlib).
    public private(set) var ended = false
    /// Bytes produced so far.
    public private(set) var produced = 0

    /// An inflater for `format`.
    public init(_ format: Format) throws(InflateError) {
        self.format = format
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, format == .zlib ? 15 : -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw InflateError("zlib inflateInit2 failed with status \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Inflates from `input` into `output` (up to its size) until either is used up or the
    /// stream ends. Returns the input bytes consumed and the output bytes produced.
    public func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(InflateError) -> (consumed: Int, produced: Int) {
        var consumed = 0, made = 0
        while !ended && made < output.count {
            let inCount = min(input.count - consumed, Int(UInt32.max)), outCount = min(output.count - made, Int(UInt32.max))
            stream.pointee.next_in = inCount == 0 ? nil : UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self) + consumed)
            stream.pointee.avail_in = uInt(inCount)
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self) + made
            stream.pointee.avail_out = uInt(outCount)
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            let usedIn = inCount - Int(stream.pointee.avail_in), usedOut = outCount - Int(stream.pointee.avail_out)
            consumed += usedIn
            made += usedOut
            switch status {
            case Z_STREAM_END: ended = true
            case Z_OK, Z_BUF_ERROR: break   // Z_BUF_ERROR: no progress possible, needs more input
            case Z_DATA_ERROR, Z_NEED_DICT: throw InflateError(format == .zlib ? "corrupt zlib stream" : "corrupt deflate data")
            case Z_MEM_ERROR: throw InflateError("out of memory while inflating")
            default: throw InflateError("zlib inflate failed with status \(status)")
            }
            if usedIn == 0 && usedOut == 0 { break }
        }
        produced += made
        return (consumed, made)
    }
}

/// Compressed bytes that do not inflate.
public struct InflateError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
