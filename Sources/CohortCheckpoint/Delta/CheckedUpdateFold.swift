/// Why `CheckedUpdateFold` refused an update (the sums are untouched in every case).
public enum CheckedUpdateRejection: Error, Equatable, Sendable, CustomStringConvertible {
    /// The message is malformed, truncated, or holds a non-finite value (the decoder's error).
    case malformed(DeltaDecodeError)
    /// The update's L2 norm (over all its tensors) is over the bound.
    case overNorm(norm: Double, bound: Double)
    /// The update carries a tensor the caller has no sum for.
    case noSum(tensor: String)

    public var description: String {
        switch self {
        case .malformed(let error): return "\(error)"
        case .overNorm(let norm, let bound): return "update norm \(norm) is over the bound \(bound)"
        case .noSum(let tensor): return "update carries tensor '\(tensor)', which has no sum"
        }
    }
}

/// Decodes one update from its wire bytes, checks it and folds it into running sums, with no
/// copy of its values and without touching the sums unless the whole update passes.
///
/// Two passes over the values: the decoder checks every record where it lies in the message
/// (structure, finiteness), and for float32 values also sums their squares in that same read
/// (`Float32Scan`), so the update's norm is known when decoding ends; only then is it folded
/// (`DeltaFold`, `y[i] = fma(w, x[i], y[i])`, the same bits as decoding the update and folding
/// the tensors). A bad record or an update over `maxNorm` leaves every sum as it was. Records of
/// a zlib-compressed body are inflated into their own buffers first; norms of float16 and int8
/// records are computed from their decoded values.
public enum CheckedUpdateFold {
    /// What was folded.
    public struct Folded: Sendable, Equatable {
        /// The update's L2 norm over all its tensors.
        public var norm: Double
        /// Tensors folded, in message order.
        public var tensors: [String]
    }

    /// Checks `message` against `shapes` (absent tensors allowed) and, if every record is good
    /// and the norm is at most `maxNorm` (nil: no bound), folds it with `weight` into
    /// `sums(name)`, which must give a buffer of the tensor's element count. `maxBytes` bounds
    /// the message and its inflated body (default: the most any valid message for `shapes`
    /// needs: 9 bytes per element, for a sparse float32 record, plus 1 KiB per tensor).
    public static func fold(_ message: UnsafeRawBufferPointer, shapes: [String: [Int]], weight: Float, maxNorm: Double? = nil,
                            maxBytes: Int? = nil,
                            into sums: (String) -> UnsafeMutableBufferPointer<Float>?) throws(CheckedUpdateRejection) -> Folded {
        let budget = maxBytes ?? shapes.values.reduce(DeltaFormat.headerSize) { total, shape in
            total &+ 9 &* shape.reduce(1, &*) &+ 1024
        }
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: budget, requireAllTensors: false, messageLength: message.count)
        var records: [DeltaRecord] = []
        do {
            try decoder.feed(message) { records.append($0) }   // in place: valid while `message` is
            try decoder.finish()
        } catch let error as DeltaDecodeError {
            throw .malformed(error)
        } catch {
            throw .malformed(DeltaDecodeError("\(error)"))
        }
        var sumOfSquares = 0.0
        for record in records {
            if let s = record.sumOfSquares {
                sumOfSquares += s
            } else {
                for v in record.decoded().data { sumOfSquares += Double(v) * Double(v) }
            }
        }
        let norm = sumOfSquares.squareRoot()
        if let maxNorm, !(norm <= maxNorm) { throw .overNorm(norm: norm, bound: maxNorm) }
        var targets: [UnsafeMutableBufferPointer<Float>] = []
        for record in records {
            guard let y = sums(record.name), y.count == record.elementCount else { throw .noSum(tensor: record.name) }
            targets.append(y)
        }
        for (record, y) in zip(records, targets) { DeltaFold.accumulate(record, weight: weight, into: y) }
        return Folded(norm: norm, tensors: records.map(\.name))
    }
}
