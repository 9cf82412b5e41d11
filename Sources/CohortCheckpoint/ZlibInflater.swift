import CZlib

/// Incremental zlib inflation (RFC 1950 stream): input arrives in pieces, output goes where
/// the caller wants it, so a compressed message can be decoded as it comes off the network.
final class ZlibInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    /// Whether the stream's end (with a correct Adler-32) has been reached.
    private(set) var ended = false
    /// Bytes produced so far.
    private(set) var produced = 0

    init() throws(ZlibError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit_(stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw ZlibError("zlib inflateInit failed with status \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Inflates from `input` into `output` (up to its size) until either is used up or the
    /// stream ends. Returns the input bytes consumed and the output bytes produced.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(ZlibError) -> (consumed: Int, produced: Int) {
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
            case Z_OK: break
            case Z_BUF_ERROR: break   // no progress possible: needs more input
            case Z_DATA_ERROR, Z_NEED_DICT: throw ZlibError("corrupt zlib stream")
            case Z_MEM_ERROR: throw ZlibError("out of memory while inflating")
            default: throw ZlibError("zlib inflate failed with status \(status)")
            }
            if usedIn == 0 && usedOut == 0 { break }
        }
        produced += made
        return (consumed, made)
    }
}
