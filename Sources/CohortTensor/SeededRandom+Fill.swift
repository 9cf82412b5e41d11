/// Bulk draws at memory speed: the same values, in the same order, as calling `uniform(_:_:)`
/// once per element, without a call and a closure per element (a 300-million-value weight
/// fills in well under a second instead of several).
extension SeededRandom {
    /// `count` values uniform in [low, high), exactly the sequence `uniform(low, high)` gives.
    public mutating func uniformArray(count: Int, _ low: Float, _ high: Float) -> [Float] {
        let n = Swift.max(0, count)
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            HugePageAdvice.advise(UnsafeMutableRawBufferPointer(buffer))
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
