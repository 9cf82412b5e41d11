import CohortTensor

/// Decodes and checks a delta message from an untrusted sender.
///
/// The decoder knows the shapes the model expects and a byte budget; every size declared in
/// the message is bounded by those (and by the bytes actually present) before anything is
/// allocated, so a hostile message costs at most `maxBytes` of inflated body plus the model's
/// own tensor sizes. Any problem — wrong magic, unsupported version, truncation, a size over a
/// limit, an unknown, duplicate or missing tensor, a shape mismatch, a count or index out of
/// range, indices not strictly increasing, a non-finite value or scale, trailing bytes —
/// throws a `DeltaDecodeError` naming the tensor, the byte offset and the problem. A message
/// is either accepted whole or rejected; there is no partial result.
public struct DeltaDecoder: Sendable {
    /// The tensors a message may carry, by name, with their shapes.
    public let expectedShapes: [String: [Int]]
    /// The largest accepted message, and the largest accepted inflated body, in bytes.
    public let maxBytes: Int
    /// Whether every expected tensor must be present (the default). When false, absent tensors
    /// are simply not in the result.
    public let requireAllTensors: Bool

    /// A decoder for a model with the given tensor shapes. Shapes must have non-negative
    /// dimensions and at most `DeltaFormat.maxElementsPerTensor` elements.
    public init(expectedShapes: [String: [Int]], maxBytes: Int, requireAllTensors: Bool = true) {
        for (name, shape) in expectedShapes {
            precondition(shape.allSatisfy { $0 >= 0 } && shape.count <= DeltaFormat.maxRank
                         && shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).partialValue }) <= DeltaFormat.maxElementsPerTensor,
                         "expected shape \(shape) of '\(name)' is not a valid delta tensor shape")
        }
        precondition(maxBytes >= 0, "maxBytes must be ≥ 0, got \(maxBytes)")
        self.expectedShapes = expectedShapes
        self.maxBytes = maxBytes
        self.requireAllTensors = requireAllTensors
    }

    /// Decodes a message held in an array.
    public func decode(_ bytes: [UInt8]) throws(DeltaDecodeError) -> ModelDelta {
        try bytes.withUnsafeBytes { b in Result { () throws(DeltaDecodeError) in try decode(b) } }.get()
    }

    /// Decodes a message.
    public func decode(_ bytes: UnsafeRawBufferPointer) throws(DeltaDecodeError) -> ModelDelta {
        let stream = DeltaStreamDecoder(expectedShapes: expectedShapes, maxBytes: maxBytes, requireAllTensors: requireAllTensors,
                                        messageLength: bytes.count)
        var names: [String] = []
        var tensors: [String: Tensor] = [:]
        do {
            try stream.feed(bytes) { record in
                names.append(record.name)
                tensors[record.name] = record.decoded()
            }
        } catch {
            throw error as? DeltaDecodeError ?? DeltaDecodeError("\(error)")
        }
        try stream.finish()
        return ModelDelta(validatedNames: names, tensors: tensors)
    }
}
