import CohortCheckpoint
import CohortTensor

/// FedAvg (McMahan et al. 2017): the new global model is the old one plus the sample-weighted
/// mean of the node deltas. Streaming: memory is one accumulator, not one copy per node.
/// FedProx (Li et al. 2020) aggregates the same way; its proximal term μ acts at the nodes.
public final class FedAvg: AggregationStrategy {
    public let name: String
    /// FedProx's μ, sent to nodes in the plan (0 for plain FedAvg).
    public let proximalMu: Float
    private let state = StreamingRound()

    /// FedAvg, or FedProx when `proximalMu > 0`.
    public init(proximalMu: Float = 0) {
        precondition(proximalMu >= 0, "FedProx μ must be ≥ 0")
        self.proximalMu = proximalMu
        name = proximalMu > 0 ? "fedprox" : "fedavg"
    }

    public func begin(round: Int, global: [String: Tensor]) { state.begin(global: global) }

    public func accumulate(_ delta: ModelDelta, samples: Int) throws { try state.accumulate(delta, samples: samples) }

    public var updateCount: Int { state.sum.count }

    public func finish() throws -> [String: Tensor] {
        try state.requireUpdates(name)
        return state.sum.applyMean(to: state.global)
    }

    public var recordFolding: RecordFolding? { state.sum }
}

/// `global + scale · mean` for the tensors in `mean`; others unchanged.
func apply(mean: [String: Tensor], to global: [String: Tensor], scale: Float) -> [String: Tensor] {
    var next = global
    for (name, m) in mean {
        var t = global[name]!
        t.data.withUnsafeMutableBufferPointer { dst in
            m.data.withUnsafeBufferPointer { VectorKernels.axpy(count: dst.count, alpha: scale, x: $0.baseAddress!, y: dst.baseAddress!) }
        }
        next[name] = t
    }
    return next
}
