/// The index stream of a sparse record: LEB128 gaps from a virtual previous index of −1
/// (`protocols/delta-codec.md`, "Index stream").
enum IndexStream {
    /// Checks that `length` bytes at `p` hold exactly `count` minimal varints whose running sum
    /// gives strictly increasing indices below `elements`. Errors point at the varint
    /// (`origin` is the stream's offset as `r` reports it).
    static func validate(_ p: UnsafePointer<UInt8>, length: Int, count: Int, elements: Int,
                         reader r: ByteReader, at origin: Int) throws(DeltaDecodeError) {
        var pos = 0
        var previous = -1
        for j in 0..<count {
            let start = pos
            var gap = 0
            var shift = 0
            while true {
                guard pos < length else {
                    throw r.error("index stream ends inside varint \(j) of \(count)", at: origin + start)
                }
                let byte = p[pos]
                pos &+= 1
                gap |= Int(byte & 0x7F) << shift
                if byte < 0x80 {
                    if byte == 0 && shift > 0 { throw r.error("varint \(j) has a redundant zero byte (not minimal)", at: origin + start) }
                    break
                }
                shift += 7
                guard shift < 7 * DeltaFormat.maxVarintBytes else {
                    throw r.error("varint \(j) is longer than \(DeltaFormat.maxVarintBytes) bytes", at: origin + start)
                }
            }
            guard gap > 0 else {
                throw r.error("index \(j) repeats the previous index \(previous) (indices must be strictly increasing)", at: origin + start)
            }
            let index = previous + gap
            guard index < elements else {
                throw r.error("index \(j) is \(index), out of range 0..<\(elements)", at: origin + start)
            }
            previous = index
        }
        guard pos == length else {
            throw r.error("index stream has \(length - pos) bytes left after its \(count) indices", at: origin + pos)
        }
    }

    /// Calls `body(j, index)` for the `count` indices of a validated stream at `p`, in order.
    @inline(__always)
    static func forEach(_ p: UnsafePointer<UInt8>, count: Int, _ body: (Int, Int) -> Void) {
        var pos = 0
        var index = -1
        for j in 0..<count {
            var gap = 0
            var shift = 0
            while true {
                let byte = p[pos]
                pos &+= 1
                gap |= Int(byte & 0x7F) &<< shift
                if byte < 0x80 { break }
                shift &+= 7
            }
            index &+= gap
            body(j, index)
        }
    }
}
