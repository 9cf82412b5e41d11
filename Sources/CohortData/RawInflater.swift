import CZlib

/// Incremental inflation of a raw deflate stream (RFC 1951, no zlib header: what ZIP's
/// method 8 stores), via zlib's `inflateInit2_` with window bits −15.
final class RawInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let name: String
    /// Whether the final deflate block has been inflated.
    private(set) var ended = false

    init(name: String) throws {
        self.name = name
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw DataError("\(name): zlib inflateInit2 failed with status \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Inflates from `input` into `output` until either is used up or the stream ends.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> (consumed: Int, produced: Int) {
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
            case Z_OK, Z_BUF_ERROR: break
            case Z_DATA_ERROR, Z_NEED_DICT: throw DataError("\(name): corrupt deflate data")
            case Z_MEM_ERROR: throw DataError("\(name): out of memory while inflating")
            default: throw DataError("\(name): zlib inflate failed with status \(status)")
            }
            if usedIn == 0 && usedOut == 0 { break }
        }
        return (consumed, made)
    }
}
