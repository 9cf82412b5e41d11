/// Writing a piece's values where they belong in a dense tensor (a receiver decoding a large
/// record straight into the tensor's storage as its bytes arrive).
extension DeltaRecordPiece {
    /// Decodes this piece's values to `tensor[elements]`, bit for bit as `DeltaRecord.decoded()`
    /// gives them (float32 values are copied, so -0 and every payload bit stay as sent).
    /// `tensor` is the whole record's storage (`recordElements` values).
    public func decode(into tensor: UnsafeMutableBufferPointer<Float>) throws(DeltaDecodeError) {
        guard tensor.count == header.elements, let base = tensor.baseAddress else {
            throw DeltaDecodeError("a piece of a \(header.elements)-element record cannot go into a \(tensor.count)-element tensor", tensor: name)
        }
        let first = elements.lowerBound, n = elements.count
        switch header.encoding {
        case .float32, .float16:
            ValueCoding.decode(count: n, encoding: header.encoding, blockSize: header.blockSize, from: values, into: base + first)
        case .int8:
            guard let scales else { throw DeltaDecodeError("an int8 piece without its block scales", tensor: name) }
            let q = values.assumingMemoryBound(to: Int8.self)
            for j in 0..<n {
                let i = first + j
                base[i] = Float(q[j]) * ValueCoding.scale(scales, i / header.blockSize)
            }
        }
    }
}
