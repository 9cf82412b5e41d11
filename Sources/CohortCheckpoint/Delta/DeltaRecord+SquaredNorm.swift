/// The squared L2 norm of what a checked record (or a piece of one) sends, for a receiver that
/// bounds an update's norm while it folds it (the coordinator's norm guard, `OrderedFold`).
extension DeltaRecord {
    /// Σ x² over the values the record sends, as `decoded()` gives them: the decoder's
    /// `sumOfSquares` for float32 records (no extra pass), else one pass over the stored
    /// float16 or int8 values, summed in double, without decoding the record into a tensor.
    public var squaredNorm: Double {
        if let sumOfSquares { return sumOfSquares }
        let h = header
        switch h.encoding {
        case .float32:   // a view of a tensor: no scan was made
            return Float32ScanKernels.scan(values, count: h.valueCount).sumOfSquares
        case .float16:
            return SquaredNormKernels.half(values, count: h.valueCount)
        case .int8:
            let q = (values + 4 * ValueCoding.blockCount(h.valueCount, h.blockSize)).assumingMemoryBound(to: Int8.self)
            return SquaredNormKernels.int8(q, count: h.valueCount, first: 0, blockSize: h.blockSize, scales: values)
        }
    }
}

extension DeltaRecordPiece {
    /// Σ x² over this piece's values, as `decode(into:)` gives them, summed in double (one
    /// pass over the piece's stored bytes; a piece carries no scan of its own).
    public var squaredNorm: Double {
        switch header.encoding {
        case .float32: return Float32ScanKernels.scan(values, count: elements.count).sumOfSquares
        case .float16: return SquaredNormKernels.half(values, count: elements.count)
        case .int8:
            guard let scales else { return .infinity }   // the decoder always gives int8 pieces their scales
            return SquaredNormKernels.int8(values.assumingMemoryBound(to: Int8.self), count: elements.count, first: elements.lowerBound,
                                           blockSize: header.blockSize, scales: scales)
        }
    }
}

/// Sums of squares of stored float16 and int8 values (decoded as `ValueCoding.decode` does).
enum SquaredNormKernels {
    /// Σ x² of `count` float16 values at `p`.
    static func half(_ p: UnsafeRawPointer, count: Int) -> Double {
        var total = 0.0
        for j in 0..<count {
            let x = Double(ValueCoding.half(p, j))
            total += x * x
        }
        return total
    }

    /// Σ x² of `count` int8 values at `q`, value j being element `first + j` of its record,
    /// scaled by its block's scale (`scales`, the record's).
    static func int8(_ q: UnsafePointer<Int8>, count: Int, first: Int, blockSize: Int, scales: UnsafeRawPointer) -> Double {
        guard blockSize > 0 else { return 0 }
        var total = 0.0
        for j in 0..<count {
            let x = Double(Float(q[j]) * ValueCoding.scale(scales, (first + j) / blockSize))
            total += x * x
        }
        return total
    }
}
