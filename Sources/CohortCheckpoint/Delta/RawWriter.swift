/// Appends little-endian values to a caller-owned buffer whose capacity was computed in
/// advance (the encoder sizes it from an upper bound, so writing past the end is a bug).
struct RawWriter {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var offset: Int

    init(base: UnsafeMutableRawPointer, capacity: Int, offset: Int = 0) {
        self.base = base
        self.capacity = capacity
        self.offset = offset
    }

    /// Reserves `n` bytes and returns where they start.
    @inline(__always) mutating func reserve(_ n: Int) -> UnsafeMutableRawPointer {
        precondition(n >= 0 && offset + n <= capacity, "delta encoder overran its buffer (\(offset) + \(n) > \(capacity))")
        let p = base + offset
        offset += n
        return p
    }

    mutating func u8(_ v: UInt8) { reserve(1).storeBytes(of: v, as: UInt8.self) }
    mutating func u16(_ v: UInt16) { reserve(2).storeBytes(of: v.littleEndian, as: UInt16.self) }
    mutating func u32(_ v: UInt32) { reserve(4).storeBytes(of: v.littleEndian, as: UInt32.self) }
    mutating func u64(_ v: UInt64) { reserve(8).storeBytes(of: v.littleEndian, as: UInt64.self) }

    mutating func bytes(_ b: some Collection<UInt8>) {
        let p = reserve(b.count)
        for (i, v) in b.enumerated() { p.storeBytes(of: v, toByteOffset: i, as: UInt8.self) }
    }

    /// Writes `indices` (strictly increasing) as LEB128 gaps from a virtual previous index of
    /// −1; returns the number of bytes written.
    mutating func gapVarints(_ indices: [UInt32]) -> Int {
        let start = offset
        let p = reserve(indices.count * DeltaFormat.maxVarintBytes).assumingMemoryBound(to: UInt8.self)
        var o = 0
        var previous: Int64 = -1
        for index in indices {
            var gap = UInt32(Int64(index) - previous)
            previous = Int64(index)
            while gap >= 0x80 {
                p[o] = UInt8(truncatingIfNeeded: gap) | 0x80
                gap >>= 7
                o &+= 1
            }
            p[o] = UInt8(gap)
            o &+= 1
        }
        offset = start + o
        return o
    }
}
