import CohortCheckpoint
import CohortNN
import CohortTensor

/// FedBN (Li et al. 2021): BatchNorm parameters and running statistics stay at each node and
/// are never averaged; everything else is aggregated by the wrapped strategy. Under scanner
/// shift each hospital keeps normalisation fitted to its own images.
public final class FedBN: AggregationStrategy {
    public let base: AggregationStrategy
    /// The tensors that stay local.
    public let localNames: Set<String>
    public var name: String { "fedbn+" + base.name }

    /// Wraps `base`, keeping `localNames` out of aggregation.
    public init(base: AggregationStrategy, localNames: Set<String>) {
        self.base = base
        self.localNames = localNames
    }

    /// The normalisation tensors of `model`, wherever they sit in its graph: every
    /// normalisation layer's affine parameters (BatchNorm, LayerNorm, GroupNorm) and the
    /// BatchNorm running statistics.
    public static func batchNormNames(of model: Sequential) -> Set<String> {
        Set(model.parameters.filter(\.isNormalization).map(\.name))
            .union(model.layers.compactMap { $0 as? BatchNorm }.flatMap { $0.buffers.map(\.name) })
    }

    public func begin(round: Int, global: [String: Tensor]) { base.begin(round: round, global: global) }

    public func accumulate(_ delta: ModelDelta, samples: Int) throws {
        let shared = delta.entries.filter { !localNames.contains($0.name) }
        try base.accumulate(try ModelDelta(shared), samples: samples)
    }

    public var updateCount: Int { base.updateCount }

    public func finish() throws -> [String: Tensor] { try base.finish() }

    public var recordFolding: RecordFolding? { base.recordFolding.map { LocalTensorFilter(base: $0, localNames: localNames) } }
}

/// FedBN's record folding: the base strategy's, without the tensors that stay local.
private final class LocalTensorFilter: RecordFolding {
    let base: RecordFolding
    let localNames: Set<String>
    init(base: RecordFolding, localNames: Set<String>) { self.base = base; self.localNames = localNames }
    func fold(tensor name: String, records: [DeltaRecord], weights: [Double]) {
        guard !localNames.contains(name) else { return }
        base.fold(tensor: name, records: records, weights: weights)
    }
    func fold(tensor name: String, piece: DeltaRecordPiece, weight: Double) {
        guard !localNames.contains(name) else { return }
        base.fold(tensor: name, piece: piece, weight: weight)
    }
    func countUpdate() { base.countUpdate() }
}
