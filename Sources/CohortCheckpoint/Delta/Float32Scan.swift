/// What one pass over float32 values found: the first value that is not finite (NaN or an
/// infinity), and the sum of the squares of the values (the squared L2 norm) when all are finite.
///
/// The decoder takes both from the same pass that checks (and, when it gathers a record, copies)
/// the values, so an update's norm costs no extra pass over its bytes.
public struct Float32Scan: Sendable, Equatable {
    /// Index of the first non-finite value; nil when every value is finite.
    public var firstNonFinite: Int?
    /// Σ xᵢ² over the values scanned (accumulated in float32 within blocks of 1,024 values and
    /// in double across blocks, so it can differ from a double-precision sum in the last ~6
    /// digits; a block whose float32 sum overflows is summed in double). Meaningless once a
    /// non-finite value was found.
    public var sumOfSquares: Double

    public init(firstNonFinite: Int? = nil, sumOfSquares: Double = 0) {
        self.firstNonFinite = firstNonFinite
        self.sumOfSquares = sumOfSquares
    }

    /// Appends the scan of the `count` values that follow the ones scanned so far.
    mutating func append(_ next: Float32Scan, after count: Int) {
        guard firstNonFinite == nil else { return }
        if let bad = next.firstNonFinite { firstNonFinite = count + bad; return }
        sumOfSquares += next.sumOfSquares
    }
}

/// The scanning loops: finiteness (the largest exponent field seen) and the sum of squares in
/// one read of the values, optionally copying them on the way (the same loads feed the store).
enum Float32ScanKernels {
    /// Values per block whose squares are summed in float32 before joining the double total.
    static let block = 1024

    /// Scans `count` float32 values at `p` (any alignment).
    static func scan(_ p: UnsafeRawPointer?, count: Int) -> Float32Scan {
        guard count > 0, let p else { return Float32Scan() }
        return run(p, nil, count: count)
    }

    /// Copies `count` float32 values (4·count bytes) from `source` to `destination` and scans
    /// them in the same pass (every value is copied, also after a non-finite one).
    static func copyAndScan(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int) -> Float32Scan {
        guard count > 0 else { return Float32Scan() }
        return run(source, destination, count: count)
    }

    private static func run(_ p: UnsafeRawPointer, _ d: UnsafeMutableRawPointer?, count: Int) -> Float32Scan {
        var total = 0.0
        var lo = 0
        while lo < count {
            let hi = min(lo &+ block, count)
            let (finite, sum) = d.map { blockCopy(p, $0, lo: lo, hi: hi) } ?? blockScan(p, lo: lo, hi: hi)
            guard finite else {
                var j = lo
                while p.loadUnaligned(fromByteOffset: j &* 4, as: Float.self).isFinite { j &+= 1 }
                if let d, hi < count { (d + 4 &* hi).copyMemory(from: p + 4 &* hi, byteCount: 4 &* (count &- hi)) }
                return Float32Scan(firstNonFinite: j, sumOfSquares: total)
            }
            if sum.isFinite {
                total += Double(sum)
            } else {   // finite values whose float32 squares overflow: sum this block in double
                for j in lo..<hi { let x = Double(p.loadUnaligned(fromByteOffset: j &* 4, as: Float.self)); total += x * x }
            }
            lo = hi
        }
        return Float32Scan(firstNonFinite: nil, sumOfSquares: total)
    }

    private static let exponent = SIMD8<UInt32>(repeating: 0x7F80_0000)

    /// Values `lo..<hi` (at most one block): whether all are finite, and Σ x² in float32.
    @inline(__always)
    private static func blockScan(_ p: UnsafeRawPointer, lo: Int, hi: Int) -> (Bool, Float) {
        var w0 = SIMD8<UInt32>(repeating: 0), w1 = w0
        var s0 = SIMD8<Float>(repeating: 0), s1 = s0
        var i = lo
        while i &+ 16 <= hi {
            let x0 = p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let x1 = p.loadUnaligned(fromByteOffset: i &* 4 &+ 32, as: SIMD8<Float>.self)
            w0 = pointwiseMax(w0, x0.bitPattern & exponent)
            w1 = pointwiseMax(w1, x1.bitPattern & exponent)
            s0 = s0.addingProduct(x0, x0)
            s1 = s1.addingProduct(x1, x1)
            i &+= 16
        }
        var finite = pointwiseMax(w0, w1).max() != 0x7F80_0000
        var sum = (s0 + s1).sum()
        while i < hi {
            let x = p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)
            finite = finite && x.isFinite
            sum = sum.addingProduct(x, x)
            i &+= 1
        }
        return (finite, sum)
    }

    /// As `blockScan`, storing every value loaded at the same offset of `d`.
    @inline(__always)
    private static func blockCopy(_ p: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, lo: Int, hi: Int) -> (Bool, Float) {
        var w0 = SIMD8<UInt32>(repeating: 0), w1 = w0
        var s0 = SIMD8<Float>(repeating: 0), s1 = s0
        var i = lo
        while i &+ 16 <= hi {
            let x0 = p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let x1 = p.loadUnaligned(fromByteOffset: i &* 4 &+ 32, as: SIMD8<Float>.self)
            d.storeBytes(of: x0, toByteOffset: i &* 4, as: SIMD8<Float>.self)
            d.storeBytes(of: x1, toByteOffset: i &* 4 &+ 32, as: SIMD8<Float>.self)
            w0 = pointwiseMax(w0, x0.bitPattern & exponent)
            w1 = pointwiseMax(w1, x1.bitPattern & exponent)
            s0 = s0.addingProduct(x0, x0)
            s1 = s1.addingProduct(x1, x1)
            i &+= 16
        }
        var finite = pointwiseMax(w0, w1).max() != 0x7F80_0000
        var sum = (s0 + s1).sum()
        while i < hi {
            let x = p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)
            d.storeBytes(of: x, toByteOffset: i &* 4, as: Float.self)
            finite = finite && x.isFinite
            sum = sum.addingProduct(x, x)
            i &+= 1
        }
        return (finite, sum)
    }
}
