import CohortTensor

/// Offline weighted merge of checkpoints that share one architecture (e.g. sites that
/// fine-tuned separately): every tensor, BatchNorm buffers included, becomes the weighted mean.
public enum CheckpointMerge {
    /// The weighted mean of `checkpoints` (weights are normalised; default equal). Errors name
    /// the file whose architecture, tensor set or shape differs from the first one's.
    public static func merge(_ checkpoints: [(path: String, checkpoint: Checkpoint)], weights: [Double]? = nil) throws -> Checkpoint {
        guard let first = checkpoints.first else { throw CheckpointError.mismatch(path: "merge", problems: ["no checkpoints given"]) }
        let w = weights ?? Array(repeating: 1, count: checkpoints.count)
        guard w.count == checkpoints.count else {
            throw CheckpointError.mismatch(path: "merge", problems: ["\(w.count) weights for \(checkpoints.count) checkpoints"])
        }
        guard w.allSatisfy({ $0.isFinite && $0 >= 0 }), w.reduce(0, +) > 0 else {
            throw CheckpointError.mismatch(path: "merge", problems: ["weights must be finite, non-negative and not all zero, got \(w)"])
        }
        let total = w.reduce(0, +)
        let reference = first.checkpoint.tensors
        var sums = reference.map { [Float](repeating: 0, count: $0.value.count) }
        for ((path, checkpoint), weight) in zip(checkpoints, w) {
            guard checkpoint.architecture == first.checkpoint.architecture else {
                throw CheckpointError.mismatch(path: path, problems: ["architecture differs from \(first.path)'s"])
            }
            let state = checkpoint.stateDictionary
            var problems: [String] = []
            for name in Set(state.keys).symmetricDifference(reference.map(\.name)).sorted() {
                problems.append(state[name] == nil ? "missing tensor '\(name)'" : "unexpected tensor '\(name)'")
            }
            for (i, r) in reference.enumerated() {
                guard let t = state[r.name] else { continue }
                guard t.shape == r.value.shape else { problems.append("'\(r.name)' has shape \(t.shape), \(first.path) has \(r.value.shape)"); continue }
                let scale = Float(weight / total)
                t.data.withUnsafeBufferPointer { src in
                    sums[i].withUnsafeMutableBufferPointer { dst in
                        for k in 0..<dst.count { dst[k] += scale * src[k] }
                    }
                }
            }
            guard problems.isEmpty else { throw CheckpointError.mismatch(path: path, problems: problems) }
            if let bad = state.first(where: { !$0.value.data.allSatisfy(\.isFinite) }) {
                throw CheckpointError.mismatch(path: path, problems: ["'\(bad.key)' holds a non-finite value"])
            }
        }
        let tensors = zip(reference, sums).map { (name: $0.0.name, value: Tensor(shape: $0.0.value.shape, data: $0.1)) }
        let sources = checkpoints.map(\.path).joined(separator: ", ")
        // The preprocessing is kept when every input carries the same one.
        let preprocessing = first.checkpoint.metadata.preprocessing
        let shared = checkpoints.allSatisfy { $0.checkpoint.metadata.preprocessing == preprocessing } ? preprocessing : nil
        let meta = CheckpointMetadata(source: "weighted merge of \(sources)", history: ["weights \(w.map { String($0) }.joined(separator: ","))"],
                                      preprocessing: shared)
        return Checkpoint(architecture: first.checkpoint.architecture, metadata: meta, tensors: tensors)
    }
}
