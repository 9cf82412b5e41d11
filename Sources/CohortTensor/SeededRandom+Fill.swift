#if canImport(Glibc)
import Glibc
#endif

/// Bulk draws at memory speed: the same values, in the same order, as calling `uniform(_:_:)`
/// once per element, without a call and a closure per element (a 300-million-value weight
/// fills in well under a second instead of several).
extension SeededRandom {
    /// `count` values uniform in [low, high), exactly the sequence `uniform(low, high)` gives.
    public mutating func uniformArray(count: Int, _ low: Float, _ high: Float) -> [Float] {
        let n = Swift.max(0, count)
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
            fillUniform(buffer, low, high)
            initialized = n
        }
    }

    /// Fills `buffer` with values uniform in [low, high), in the order `uniform(low, high)` draws them.
    public mutating func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, _ low: Float, _ high: Float) {
        guard let base = buffer.baseAddress else { return }
        let width = high - low
        for i in 0..<buffer.count {
            // Must stay term for term what `uniform(low, high)` computes, so seeds give the same weights.
            base[i] = low + width * (Float(next() >> 40) * (1.0 / 16_777_216.0))
        }
    }
}

/// Asks for transparent huge pages on the 2 MiB-aligned interior of a large new buffer about to
/// be written whole: one page fault per 2 MiB instead of per 4 KiB. Advice only.
private func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
    #if canImport(Glibc)
    let hugePage = 2 << 20
    guard buffer.count >= 64 << 20, let base = buffer.baseAddress else { return }
    let start = (Int(bitPattern: base) + hugePage - 1) / hugePage * hugePage
    let end = (Int(bitPattern: base) + buffer.count) / hugePage * hugePage
    guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(aligned, end - start, MADV_HUGEPAGE)
    #endif
}
