import CohortTensor

/// Folds validated delta records straight from their wire bytes into a running float32 sum:
/// `y[i] = fma(w_k, x_k[i], y[i])` for the records k = 0, 1, … in the order given, where
/// `x_k[i]` is exactly the value `DeltaRecord.decoded()` would hold (0 where a sparse record
/// sends nothing, which leaves `y[i]` as it is).
///
/// Every element sees the same operations in the same order whatever the grouping, so folding
/// records one call at a time, or several in one call, or splitting the work across threads,
/// gives bit-identical sums. Several dense float32 records of one tensor are folded in one pass
/// (each 16-element slice of `y` is loaded once, every record's slice is added in registers,
/// and it is stored once), so the sum is read and written once per call instead of once per
/// record: for K records that moves (K + 2)·4 bytes per element instead of 3K·4.
public enum DeltaFold {
    /// Elements below which one thread does the work.
    static let parallelThreshold = 1 << 16

    /// Folds `records` (all of `y`'s tensor, `y.count` elements each) with `weights` into `y`.
    public static func accumulate(_ records: [DeltaRecord], weights: [Float], into y: UnsafeMutableBufferPointer<Float>) {
        precondition(records.count == weights.count, "one weight per record")
        precondition(records.allSatisfy { $0.elementCount == y.count }, "every record must have the sum's \(y.count) elements")
        guard let out = y.baseAddress, !records.isEmpty else { return }
        let n = y.count
        var k = 0
        while k < records.count {
            if records[k].header.layout == .sparse {
                scatter(records[k], weight: weights[k], into: out)
                k += 1
                continue
            }
            var end = k + 1
            while end < records.count && records[end].header.layout == .dense { end += 1 }
            let run = Array(records[k..<end]), w = Array(weights[k..<end])
            let target = SendableMutablePointer(out)
            split(n) { lo, hi in denseRange(run, weights: w, lo: lo, hi: hi, into: target.p) }
            k = end
        }
    }

    /// Folds one record (see `accumulate(_:weights:into:)`).
    public static func accumulate(_ record: DeltaRecord, weight: Float, into y: UnsafeMutableBufferPointer<Float>) {
        accumulate([record], weights: [weight], into: y)
    }

    /// Folds a piece of a dense record into the elements it covers: `y[i] = fma(w, x[i], y[i])`
    /// for `i` in `piece.elements`, the same operation, bit for bit, as folding the whole record
    /// does on those elements. `y` is the whole tensor's sum.
    public static func accumulate(_ piece: DeltaRecordPiece, weight w: Float, into y: UnsafeMutableBufferPointer<Float>) {
        precondition(piece.recordElements == y.count, "the piece's record must have the sum's \(y.count) elements")
        guard let base = y.baseAddress else { return }
        let first = piece.elements.lowerBound
        let target = SendableMutablePointer(base), source = DenseSource(piece)
        split(piece.elements.count) { lo, hi in
            if source.encoding == .float32 {
                [source.values].withUnsafeBufferPointer { xs in
                    [w].withUnsafeBufferPointer { ws in float32Batch(xs, ws, lo: lo, hi: hi, into: target.p + first) }
                }
            } else {
                tiled(lo: first + lo, hi: first + hi) { quantized(source, weight: w, lo: $0, hi: $1, into: target.p) }
            }
        }
    }

    /// Runs `body` over `0..<n` cut into one range per worker (one range below
    /// `parallelThreshold`), on 16-element boundaries so every task runs the same vector code.
    private static func split(_ n: Int, _ body: (_ lo: Int, _ hi: Int) -> Void) {
        let tasks = n >= parallelThreshold ? WorkerPool.shared.width : 1
        WorkerPool.shared.run(tasks: tasks) { t in
            body(n / 16 * t / tasks * 16, t == tasks - 1 ? n : n / 16 * (t + 1) / tasks * 16)
        }
    }

    /// Runs `body` over `lo..<hi` in tiles small enough to keep the sum in the L1 cache.
    private static func tiled(lo: Int, hi: Int, _ body: (_ lo: Int, _ hi: Int) -> Void) {
        let tile = 4096
        var start = lo
        while start < hi {
            let stop = min(start + tile, hi)
            body(start, stop)
            start = stop
        }
    }

    /// Dense records over elements `lo..<hi`: runs of float32 records in registers, others
    /// record by record in tiles small enough to keep `y` in the L1 cache.
    private static func denseRange(_ run: [DeltaRecord], weights: [Float], lo: Int, hi: Int, into y: UnsafeMutablePointer<Float>) {
        var k = 0
        while k < run.count {
            var end = k
            while end < run.count && run[end].header.encoding == .float32 { end += 1 }
            if end > k {
                let sources = run[k..<end].map { $0.values }
                sources.withUnsafeBufferPointer { xs in
                    weights[k..<end].withUnsafeBufferPointer { ws in float32Batch(xs, ws, lo: lo, hi: hi, into: y) }
                }
                k = end
                continue
            }
            let source = DenseSource(run[k])
            tiled(lo: lo, hi: hi) { quantized(source, weight: weights[k], lo: $0, hi: $1, into: y) }
            k += 1
        }
    }

    /// `y[i] = fma(w_K-1, x_K-1[i], … fma(w_0, x_0[i], y[i]))` over `lo..<hi` for float32 sources.
    private static func float32Batch(_ xs: UnsafeBufferPointer<UnsafeRawPointer>, _ ws: UnsafeBufferPointer<Float>,
                                     lo: Int, hi: Int, into y: UnsafeMutablePointer<Float>) {
        let yr = UnsafeMutableRawPointer(y)
        let count = xs.count
        var i = lo
        while i &+ 16 <= hi {
            let at = i &* 4
            var a0 = yr.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
            var a1 = yr.loadUnaligned(fromByteOffset: at &+ 32, as: SIMD8<Float>.self)
            var j = 0
            while j < count {
                let w = SIMD8<Float>(repeating: ws[j]), x = xs[j]
                a0 = a0.addingProduct(w, x.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self))
                a1 = a1.addingProduct(w, x.loadUnaligned(fromByteOffset: at &+ 32, as: SIMD8<Float>.self))
                j &+= 1
            }
            yr.storeBytes(of: a0, toByteOffset: at, as: SIMD8<Float>.self)
            yr.storeBytes(of: a1, toByteOffset: at &+ 32, as: SIMD8<Float>.self)
            i &+= 16
        }
        while i < hi {
            var a = y[i]
            for j in 0..<count { a = a.addingProduct(ws[j], xs[j].loadUnaligned(fromByteOffset: i &* 4, as: Float.self)) }
            y[i] = a
            i &+= 1
        }
    }

    /// Dense values as the kernels read them: element `i`'s value is stored value `i − first`
    /// (a whole record: `first` = 0; a piece: its first element).
    struct DenseSource: @unchecked Sendable {
        let encoding: DeltaValueEncoding
        let blockSize: Int
        /// The stored values (int8: the quantised bytes, after the scales).
        let values: UnsafeRawPointer
        /// int8: the record's block scales (block b covers elements b·blockSize…).
        let scales: UnsafeRawPointer
        let first: Int

        init(_ record: DeltaRecord) {
            let h = record.header
            encoding = h.encoding
            blockSize = h.blockSize
            scales = record.values
            values = h.encoding == .int8 ? record.values + 4 * ValueCoding.blockCount(h.valueCount, h.blockSize) : record.values
            first = 0
        }

        init(_ piece: DeltaRecordPiece) {
            encoding = piece.header.encoding
            blockSize = piece.header.blockSize
            values = piece.values
            scales = piece.scales ?? piece.values
            first = piece.elements.lowerBound
        }
    }

    /// One dense source (any encoding) over elements `lo..<hi`.
    private static func quantized(_ s: DenseSource, weight w: Float, lo: Int, hi: Int, into y: UnsafeMutablePointer<Float>) {
        let p = s.values, f = s.first
        switch s.encoding {
        case .float32:
            for i in lo..<hi { y[i] = y[i].addingProduct(w, p.loadUnaligned(fromByteOffset: (i &- f) &* 4, as: Float.self)) }
        case .float16:
            for i in lo..<hi { y[i] = y[i].addingProduct(w, ValueCoding.half(p, i &- f)) }
        case .int8:
            let q = p.assumingMemoryBound(to: Int8.self)
            var i = lo
            while i < hi {
                let block = i / s.blockSize
                let stop = min(hi, (block + 1) * s.blockSize)
                let scale = ValueCoding.scale(s.scales, block)
                for e in i..<stop { y[e] = y[e].addingProduct(w, Float(q[e &- f]) * scale) }
                i = stop
            }
        }
    }

    /// A sparse record: only the elements it sends.
    private static func scatter(_ record: DeltaRecord, weight w: Float, into y: UnsafeMutablePointer<Float>) {
        let h = record.header, p = record.values
        guard h.valueCount > 0 else { return }
        let stream = record.payload.assumingMemoryBound(to: UInt8.self)
        switch h.encoding {
        case .float32:
            IndexStream.forEach(stream, count: h.valueCount) { j, i in y[i] = y[i].addingProduct(w, p.loadUnaligned(fromByteOffset: j &* 4, as: Float.self)) }
        case .float16:
            IndexStream.forEach(stream, count: h.valueCount) { j, i in y[i] = y[i].addingProduct(w, ValueCoding.half(p, j)) }
        case .int8:
            let q = (p + 4 * ValueCoding.blockCount(h.valueCount, h.blockSize)).assumingMemoryBound(to: Int8.self)
            let b = h.blockSize
            IndexStream.forEach(stream, count: h.valueCount) { j, i in y[i] = y[i].addingProduct(w, Float(q[j]) * ValueCoding.scale(p, j / b)) }
        }
    }
}
