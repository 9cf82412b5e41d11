import CohortCheckpoint
import CohortTensor

/// A running sample-weighted sum of deltas: each update is folded in as it arrives and can then
/// be dropped, so memory stays one model-sized accumulator whatever the number of nodes.
///
/// Updates fold through `DeltaFold` (one fused multiply-add per element, in arrival order), so
/// an update decoded into tensors and the same update folded from its wire records give the
/// same bits. Each tensor keeps its own total weight: its mean is over the updates that carried
/// it (all of them, unless an update was cut off or omits the tensor).
final class WeightedDeltaSum: RecordFolding {
    private(set) var sums: [String: [Float]] = [:]
    private(set) var weights: [String: Double] = [:]
    private(set) var count = 0
    /// Accumulators being made ahead of the first fold (`prepare`).
    private var preparing: PreparedSums?
    /// Whether each round's `prepare` follows its `begin` (set by the first `prepare`): the
    /// round's start then hands over the previous round's global storage (`recycle`).
    private var preparesEveryRound = false
    /// The previous round's global values, for the next `prepare` to zero and reuse.
    private var recycled: [String: [Float]] = [:]

    /// Clears the sum for a new round (accumulators being made by `prepare` are kept for it).
    func reset() { sums = [:]; weights = [:]; count = 0 }

    /// Keeps `previous` (the last round's global, which no one needs once the next round has
    /// begun) for the next `prepare`: zeroing memory already touched costs a few milliseconds,
    /// while a new 1.2 GB sum cost the coordinator a core for 0.7 s of page faults every round,
    /// while its MODELs went out. Storage someone else still shares is copied before it is
    /// zeroed (as any write to a shared array is): never wrong, only not faster (the FedAvg
    /// coordinator shares none). Only when `prepare` follows every round's start, so nothing
    /// is held longer than that.
    func recycle(_ previous: inout [String: Tensor]) {
        guard preparesEveryRound else { return }
        for name in Array(previous.keys) { recycled[name] = previous.removeValue(forKey: name)!.data }
    }

    /// Starts making the zeroed accumulators of tensors `counts` (name: elements) on a thread
    /// of their own, for the round's first fold to take: the first touch of a large model's
    /// sum is then not on the path of the first UPDATE. Tensors no update carries keep their
    /// zero sum and no weight, which `mean` and `applyMean` skip. Accumulators already being
    /// made (and not yet taken) are kept instead.
    func prepare(counts: [String: Int]) {
        preparesEveryRound = true
        var handing: [String: [Float]] = [:]
        swap(&handing, &recycled)
        guard preparing == nil else { return }
        preparing = PreparedSums(counts: counts, recycling: consume handing)
    }

    /// Takes the prepared accumulators (waiting for them), if any.
    private func takePrepared() {
        recycled = [:]
        guard let p = preparing else { return }
        preparing = nil
        for (name, buffer) in p.wait() where sums[name] == nil { sums[name] = buffer }
    }

    /// Adds `weight · delta` and counts the update. The caller has validated the update
    /// (`validate`), so the sum is never poisoned.
    func add(_ delta: ModelDelta, weight: Double) {
        takePrepared()
        for name in delta.names {
            DeltaRecord.withView(of: delta[name]!, name: name) { fold(tensor: name, records: [$0], weights: [weight]) }
        }
        countUpdate()
    }

    func fold(tensor name: String, records: [DeltaRecord], weights w: [Double]) {
        guard let first = records.first else { return }
        takePrepared()
        if sums[name] == nil { sums[name] = [Float](repeating: 0, count: first.elementCount) }
        sums[name]!.withUnsafeMutableBufferPointer { DeltaFold.accumulate(records, weights: w.map { Float($0) }, into: $0) }
        weights[name, default: 0] += w.reduce(0, +)
    }

    func fold(tensor name: String, piece: DeltaRecordPiece, weight: Double) {
        takePrepared()
        if sums[name] == nil { sums[name] = [Float](repeating: 0, count: piece.recordElements) }
        sums[name]!.withUnsafeMutableBufferPointer { DeltaFold.accumulate(piece, weight: Float(weight), into: $0) }
        if piece.isFirst { weights[name, default: 0] += weight }
    }

    func countUpdate() { count += 1 }

    /// The weighted mean delta per tensor (names never updated are absent).
    func mean() -> [String: Tensor] {
        takePrepared()
        var out: [String: Tensor] = [:]
        for (name, sum) in sums {
            guard let w = weights[name], w > 0 else { continue }
            let inv = Float(1 / w)
            out[name] = Tensor(shape: [sum.count], data: sum.map { $0 * inv })
        }
        return out
    }

    /// `global + mean delta`, computed in one pass per tensor into the accumulator's own storage
    /// (no extra model-sized allocation); other tensors unchanged. The sum buffers are consumed;
    /// the counts stay until `reset`.
    func applyMean(to global: [String: Tensor]) -> [String: Tensor] {
        takePrepared()
        var next = global
        for name in Array(sums.keys) {
            guard let w = weights[name], w > 0 else { continue }
            let inv = Float(1 / w)
            let g = global[name]!
            var buffer = sums.removeValue(forKey: name)!
            g.data.withUnsafeBufferPointer { gp in
                buffer.withUnsafeMutableBufferPointer { bp in
                    for i in 0..<bp.count { bp[i] = gp[i].addingProduct(bp[i], inv) }
                }
            }
            next[name] = Tensor(shape: g.shape, data: buffer)
        }
        return next
    }
}
