/// Writing and reading the value stream of a tensor record (and the int8 block scales), for
/// each quantisation.
enum ValueCoding {
    /// Bytes that `count` values take in the record: block scales (int8) plus the values.
    static func storedBytes(count n: Int, encoding: DeltaValueEncoding, blockSize: Int) -> Int {
        switch encoding {
        case .float32: return 4 * n
        case .float16: return 2 * n
        case .int8: return 4 * blockCount(n, blockSize) + n
        }
    }

    /// Number of int8 blocks for `n` values.
    static func blockCount(_ n: Int, _ blockSize: Int) -> Int { n == 0 ? 0 : (n - 1) / blockSize + 1 }

    // MARK: Encoding

    /// Writes the scales (int8) and the values of `src[0..<n]`. With `keepResidual`, replaces
    /// every `src[j]` by `src[j] − decoded`, where `decoded` is exactly what a decoder will
    /// produce for it.
    static func write(_ src: UnsafeMutablePointer<Float>, count n: Int, encoding: DeltaValueEncoding, blockSize: Int,
                      into w: inout RawWriter, keepResidual: Bool) {
        switch encoding {
        case .float32:
            let p = w.reserve(4 * n)
            p.copyMemory(from: src, byteCount: 4 * n)
            if keepResidual { src.update(repeating: 0, count: n) }
        case .float16:
            writeFloat16(src, count: n, to: w.reserve(2 * n).assumingMemoryBound(to: UInt16.self), keepResidual: keepResidual)
        case .int8:
            let blocks = blockCount(n, blockSize)
            let scales = w.reserve(4 * blocks)
            let values = w.reserve(n).assumingMemoryBound(to: Int8.self)
            for b in 0..<blocks {
                let start = b * blockSize
                let len = min(blockSize, n - start)
                let scale = DeltaKernels.maxMagnitude(src + start, count: len) / 127
                scales.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: 4 * b, as: UInt32.self)
                quantizeInt8(src + start, count: len, scale: scale, to: values + start, keepResidual: keepResidual)
            }
        }
    }

    /// float16 with magnitudes clamped to 65504 (the largest finite binary16).
    private static func writeFloat16(_ src: UnsafeMutablePointer<Float>, count n: Int, to out: UnsafeMutablePointer<UInt16>,
                                     keepResidual: Bool) {
        let limit = Float(Float16.greatestFiniteMagnitude)
        for j in 0..<n {
            let x = src[j]
            let h = Float16(min(max(x, -limit), limit))
            out[j] = h.bitPattern
            if keepResidual { src[j] = x - Float(h) }
        }
    }

    /// `q = round(x / scale)` clamped to ±127 (all zero when `scale` is 0). Written as a
    /// branch-free scalar loop that LLVM vectorises (the generic SIMD conversions do not
    /// specialise): rounding is `roundps`, and the float → int8 step adds 1.5·2^23, whose low
    /// mantissa bits then hold the integer.
    private static func quantizeInt8(_ src: UnsafeMutablePointer<Float>, count n: Int, scale: Float,
                                     to out: UnsafeMutablePointer<Int8>, keepResidual: Bool) {
        guard scale > 0 else {
            out.update(repeating: 0, count: n)   // every |x| is 0 (or below 127 × the smallest subnormal)
            return
        }
        if keepResidual {
            for j in 0..<n {
                let x = src[j]
                let q = clampedRound(x / scale)
                out[j] = toInt8(q)
                src[j] = x - q * scale
            }
        } else {
            for j in 0..<n { out[j] = toInt8(clampedRound(src[j] / scale)) }
        }
    }

    @inline(__always) private static func clampedRound(_ v: Float) -> Float {
        let r = v.rounded(.toNearestOrEven)
        let low: Float = -127, high: Float = 127
        return r < low ? low : (r > high ? high : r)
    }

    /// An integral float in -127...127 as Int8, without a range check.
    @inline(__always) private static func toInt8(_ q: Float) -> Int8 {
        Int8(truncatingIfNeeded: (q + 12_582_912).bitPattern &- 0x4B40_0000)
    }

    // MARK: Decoding

    /// Checks the `n` values at `r` (after the int8 scales) and moves past them. Throws on a
    /// non-finite value or scale, a negative or oversized scale, or an int8 value of −128: the
    /// first problem in the order the bytes come (for int8, block by block: a scale's problem
    /// is found after the values of the blocks before it).
    /// For float32 values, returns their sum of squares (from the same pass, or from
    /// `prescanned` when the caller already scanned them, e.g. while gathering them).
    @discardableResult
    static func validate(count n: Int, encoding: DeltaValueEncoding, blockSize: Int,
                         from r: inout ByteReader, prescanned: Float32Scan? = nil) throws(DeltaDecodeError) -> Double? {
        switch encoding {
        case .float32:
            let start = r.offset
            let p = try r.take(4 * n, for: "\(n) \(encoding.name) values")
            let scan = prescanned ?? Float32ScanKernels.scan(p, count: n)
            if scan.firstNonFinite != nil, let bad = firstBadFloat(p, count: n, first: 0, of: n, encoding: encoding) {
                throw r.error(bad.problem, at: start + 4 * bad.index)
            }
            return scan.sumOfSquares
        case .float16:
            let start = r.offset
            let p = try r.take(encoding.width * n, for: "\(n) \(encoding.name) values")
            if let bad = firstBadFloat(p, count: n, first: 0, of: n, encoding: encoding) {
                throw r.error(bad.problem, at: start + encoding.width * bad.index)
            }
        case .int8:
            let blocks = blockCount(n, blockSize)
            let scalesStart = r.offset
            let scales = try r.take(4 * blocks, for: "\(blocks) int8 block scales")
            let valuesStart = r.offset
            let values = try r.take(n, for: "\(n) int8 values")
            let badScale = firstBadScale(scales, blocks: blocks)
            if let bad = firstBadInt8(values, count: badScale.map { $0.block * blockSize } ?? n, first: 0, of: n) {
                throw r.error(bad.problem, at: valuesStart + bad.index)
            }
            if let badScale { throw r.error(badScale.problem, at: scalesStart + 4 * badScale.block) }
        }
        return nil
    }

    /// The first of `count` float32 or float16 values at `p` (values `first…` of a record of
    /// `n`) that is not finite: its index from `p` and the problem; nil when all are finite.
    static func firstBadFloat(_ p: UnsafeRawPointer, count: Int, first: Int, of n: Int,
                              encoding: DeltaValueEncoding) -> (index: Int, problem: String)? {
        let bad: Int, value: String
        switch encoding {
        case .float32:
            guard let j = DeltaKernels.firstNonFinite(p, count: count) else { return nil }
            (bad, value) = (j, "\(p.loadUnaligned(fromByteOffset: 4 * j, as: Float.self))")
        case .float16:
            guard let j = firstNonFiniteHalf(p, count: count) else { return nil }
            (bad, value) = (j, "\(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * j, as: UInt16.self)))")
        case .int8:
            preconditionFailure("int8 values are checked by firstBadInt8")
        }
        return (bad, "\(encoding.name) value \(first + bad) of \(n) is \(value) (values must be finite)")
    }

    /// The first of `blocks` int8 block scales at `p` that is not finite, non-negative and at
    /// most `FLT_MAX / 127`: its block and the problem; nil when all are valid.
    static func firstBadScale(_ p: UnsafeRawPointer, blocks: Int) -> (block: Int, problem: String)? {
        let largest = Float.greatestFiniteMagnitude / 127
        for b in 0..<blocks {
            let scale = Self.scale(p, b)
            guard scale.isFinite, scale.sign == .plus, scale <= largest else {
                let why = !scale.isFinite ? "is \(scale)" : scale.sign == .minus ? "is negative (\(scale))" : "is \(scale), over the largest allowed \(largest)"
                return (b, "int8 scale of block \(b) of \(blocks) \(why)")
            }
        }
        return nil
    }

    /// The first of `count` int8 values at `p` (values `first…` of a record of `n`) that is
    /// −128: its index from `p` and the problem; nil when there is none.
    static func firstBadInt8(_ p: UnsafeRawPointer, count: Int, first: Int, of n: Int) -> (index: Int, problem: String)? {
        guard let bad = firstMinus128(p.assumingMemoryBound(to: Int8.self), count: count) else { return nil }
        return (bad, "int8 value \(first + bad) of \(n) is -128 (allowed -127...127)")
    }

    /// Decodes `n` validated values stored at `p` (for int8: the block scales, then the values)
    /// to `dst[0..<n]`.
    static func decode(count n: Int, encoding: DeltaValueEncoding, blockSize: Int, from p: UnsafeRawPointer,
                       into dst: UnsafeMutablePointer<Float>) {
        switch encoding {
        case .float32:
            UnsafeMutableRawPointer(dst).copyMemory(from: p, byteCount: 4 * n)
        case .float16:
            for j in 0..<n { dst[j] = half(p, j) }
        case .int8:
            let values = (p + 4 * blockCount(n, blockSize)).assumingMemoryBound(to: Int8.self)
            for b in 0..<blockCount(n, blockSize) {
                let start = b * blockSize
                dequantizeInt8(values + start, count: min(blockSize, n - start), scale: scale(p, b), to: dst + start)
            }
        }
    }

    /// float16 value `j` of the values at `p`, as float32.
    @inline(__always) static func half(_ p: UnsafeRawPointer, _ j: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 &* j, as: UInt16.self))))
    }

    /// int8 block scale `b` of the scales at `p`.
    @inline(__always) static func scale(_ p: UnsafeRawPointer, _ b: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 &* b, as: UInt32.self)))
    }

    private static func firstNonFiniteHalf(_ p: UnsafeRawPointer, count n: Int) -> Int? {
        let mask = SIMD16<UInt16>(repeating: 0x7C00)
        var worst = SIMD16<UInt16>(repeating: 0)
        var j = 0
        while j &+ 16 <= n {
            worst = pointwiseMax(worst, p.loadUnaligned(fromByteOffset: j &* 2, as: SIMD16<UInt16>.self) & mask)
            j &+= 16
        }
        var bad = worst.max() == 0x7C00
        while j < n && !bad { bad = p.loadUnaligned(fromByteOffset: j &* 2, as: UInt16.self) & 0x7C00 == 0x7C00; j &+= 1 }
        guard bad else { return nil }
        return (0..<n).first { p.loadUnaligned(fromByteOffset: $0 &* 2, as: UInt16.self) & 0x7C00 == 0x7C00 }
    }

    private static func firstMinus128(_ p: UnsafePointer<Int8>, count n: Int) -> Int? {
        var low: Int8 = 0
        for j in 0..<n { low = min(low, p[j]) }
        guard low == -128 else { return nil }
        return (0..<n).first { p[$0] == -128 }
    }

    private static func dequantizeInt8(_ q: UnsafePointer<Int8>, count n: Int, scale: Float, to dst: UnsafeMutablePointer<Float>) {
        for j in 0..<n { dst[j] = Float(q[j]) * scale }
    }
}
