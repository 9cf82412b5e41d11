import CohortCheckpoint
import CohortTensor

/// How the coordinator turns the round's node updates into the next global model.
///
/// Like Flower's `Strategy`: a round begins with the current global state, each accepted
/// update (a delta from one node with its sample count) is folded in as it arrives, and the
/// round finishes with the new global state. A new strategy is one new type.
public protocol AggregationStrategy: AnyObject {
    /// Short name for logs and reports, e.g. `fedavg`.
    var name: String { get }
    /// Starts a round from `global`; forgets the previous round's updates.
    func begin(round: Int, global: [String: Tensor])
    /// Folds in one node's update. Throws `AggregationError` (and changes nothing) when the
    /// update does not fit the round: unknown or missing tensor, wrong shape, non-finite value.
    func accumulate(_ delta: ModelDelta, samples: Int) throws
    /// Updates folded in so far this round.
    var updateCount: Int { get }
    /// The new global state. Throws when no update was accepted.
    func finish() throws -> [String: Tensor]
    /// How this strategy folds tensor records straight from their wire bytes as they arrive,
    /// or nil when it needs each update whole (the default).
    var recordFolding: RecordFolding? { get }
}

extension AggregationStrategy {
    public var recordFolding: RecordFolding? { nil }
}

/// Folding an update record by record, as it arrives, instead of whole: what a streaming
/// strategy (a running weighted sum) offers a coordinator, so no update is ever decoded into
/// dense tensors. The records were checked by the decoder against the global model's shapes
/// (known names, finite values), which is what `accumulate` would check.
public protocol RecordFolding: AnyObject {
    /// Folds `records` of one tensor, from different updates in the order given, with their
    /// weights (sample counts). Each tensor keeps its own total weight.
    func fold(tensor name: String, records: [DeltaRecord], weights: [Double])
    /// Folds one piece of a dense record of tensor `name` with its update's `weight`: the
    /// elements it covers, exactly as folding the whole record does on them. The record's
    /// weight counts once in the tensor's total, with its first piece.
    func fold(tensor name: String, piece: DeltaRecordPiece, weight: Double)
    /// Counts one update as accepted (after its records were folded).
    func countUpdate()
}

/// A whole-update strategy that takes each update as the checked tensor records the delta
/// decoder handed out (each owning its bytes) instead of decoded tensors, so a coordinator
/// never decodes an update only to hold it (`ScreenedAggregation`).
public protocol WholeRecordIntake: AnyObject {
    /// Holds one update given as its records (at most one per tensor) with its sample count;
    /// throws `AggregationError` (and holds nothing) when it does not fit the round.
    func accumulate(records: [DeltaRecord], samples: Int) throws
}

/// A strategy whose state carries over from round to round (a server optimizer's moments):
/// the coordinator journals it with every round, so a resumed run continues bit for bit.
public protocol PersistentStrategyState: AnyObject {
    /// The state after the last finished round, as named tensors.
    func savedState() -> [(name: String, value: Tensor)]
    /// Restores a state `savedState` gave; throws, naming the problem, if it does not fit.
    func restore(_ state: [(name: String, value: Tensor)]) throws
}

/// An update or round that cannot be aggregated, with the reason.
public struct AggregationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Checks an update against the round's global state: every delta tensor must name a global
/// tensor of the same shape and hold finite values; the sample count must be positive.
func validate(_ delta: ModelDelta, samples: Int, against global: [String: Tensor]) throws {
    guard samples > 0 else { throw AggregationError("update with \(samples) samples: the sample count must be positive") }
    for name in delta.names {
        guard let g = global[name] else { throw AggregationError("update names '\(name)', which the global model does not have") }
        let t = delta[name]!
        guard t.shape == g.shape else { throw AggregationError("update '\(name)' has shape \(t.shape), the global model \(g.shape)") }
        guard t.isFinite else { throw AggregationError("update '\(name)' holds NaN or infinity") }
    }
}
