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
            let tasks = n >= parallelThreshold ? WorkerPool.shared.width : 1
            WorkerPool.shared.run(tasks: tasks) { t in
                // Split on 16-element boundaries so every task runs the same vector code.
                let lo = n / 16 * t / tasks * 16, hi = t == tasks - 1 ? n : n / 16 * (t + 1) / tasks * 16
                denseRange(run, weights: w, lo: lo, hi: hi, into: target.p)
            }
            k = end
        }
    }

    /// Folds one record (see `accumulate(_:weights:into:)`).
    public static func accumulate(_ record: DeltaRecord, weight: Float, into y: UnsafeMutableBufferPointer<Float>) {
        accumulate([record], weights: [weight], into: y)
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
            let tile = 4096
            var start = lo
            while start < hi {
                let stop = min(start + tile, hi)
                quantized(run[k], weight: weights[k], lo: start, hi: stop, into: y)
                start = stop
            }
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

    /// One dense float16 or int8 record over `lo..<hi`.
    private static func quantized(_ record: DeltaRecord, weight w: Float, lo: Int, hi: Int, into y: UnsafeMutablePointer<Float>) {
        let h = record.header, p = record.values
        switch h.encoding {
        case .float32:
            for i in lo..<hi { y[i] = y[i].addingProduct(w, p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)) }
        case .float16:
            for i in lo..<hi { y[i] = y[i].addingProduct(w, ValueCoding.half(p, i)) }
        case .int8:
            let q = (p + 4 * ValueCoding.blockCount(h.valueCount, h.blockSize)).assumingMemoryBound(to: Int8.self)
            var i = lo
            while i < hi {
                let block = i / h.blockSize
                let stop = min(hi, (block + 1) * h.blockSize)
                let s = ValueCoding.scale(p, block)
                for e in i..<stop { y[e] = y[e].addingProduct(w, Float(q[e]) * s) }
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
