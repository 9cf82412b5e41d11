import CohortTensor

/// A node's copy of the coordinator's global weights as last received: never the weights it
/// fine-tuned, nor its own kept tensors (FedBN's BatchNorm, the statistics under privacy),
/// which stay apart. A MODEL that is a delta from version b is applied to it (the copy must
/// be of version b or later: tensors absent from the delta did not change after b), and the
/// result is checked against the header's `modelSHA256` before it is kept or used.
struct ReceivedGlobal {
    /// The global version held (nil: none yet, or forgotten after a failed check).
    private(set) var version: Int?
    private(set) var weights: [String: Tensor] = [:]

    /// The whole global model of `header`'s version: the body alone (a whole model), or the
    /// body applied to the copy held (a delta). Throws, keeping nothing, when the node holds
    /// no copy the delta can apply to or the result does not match the digest. A whole model
    /// replaces the copy, which is dropped before the new one is decoded.
    mutating func apply(_ header: RoundMessages.ModelHeader, body: [UInt8], shapes: [String: [Int]]) throws -> [String: Tensor] {
        guard let expected = header.modelSHA256 else { throw AggregationError("the MODEL of version \(header.modelVersion) carries no modelSHA256") }
        var next: [String: Tensor]
        if let base = header.baseVersion {
            guard let held = version, held >= base, held <= header.modelVersion, weights.mapValues(\.shape) == shapes else {
                throw Mismatch("the MODEL is a delta from version \(base) to \(header.modelVersion), but this node holds "
                                       + (version.map { "version \($0)" } ?? "no global model"))
            }
            next = weights
            for (name, value) in try RoundMessages.decodeWeights(body, shapes: shapes, complete: false) { next[name] = value }
        } else {
            forget()   // a whole model needs no copy: free it before decoding the new one
            next = try RoundMessages.decodeWeights(body, shapes: shapes)
        }
        let actual = ModelDigest.sha256Hex(next)
        guard actual == expected else {
            forget()
            throw Mismatch("the global model of version \(header.modelVersion) rebuilt from the MODEL"
                                   + (header.baseVersion.map { " (a delta from version \($0))" } ?? "")
                                   + " has SHA-256 \(actual), the coordinator's has \(expected)")
        }
        version = header.modelVersion
        weights = next
        return next
    }

    /// The MODEL cannot give this node the coordinator's global model (it needs the whole one).
    struct Mismatch: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Drops the copy: the next MODEL must be whole.
    mutating func forget() {
        version = nil
        weights = [:]
    }
}
