import CohortCheckpoint
import CohortTensor

/// The round state of a streaming strategy: the round's global weights and the running
/// sample-weighted sum of validated deltas. FedAvg and the server optimizers differ only in
/// what they do with the mean at the end of the round.
final class StreamingRound {
    private(set) var global: [String: Tensor] = [:]
    let sum = WeightedDeltaSum()

    func begin(global: [String: Tensor]) {
        var previous = self.global
        self.global = global
        sum.reset()
        sum.recycle(&previous)
    }

    func accumulate(_ delta: ModelDelta, samples: Int) throws {
        try validate(delta, samples: samples, against: global)
        sum.add(delta, weight: Double(samples))
    }

    /// Throws when no update was accepted; `strategy` names the caller in the message.
    func requireUpdates(_ strategy: String) throws {
        guard sum.count > 0 else { throw AggregationError("\(strategy): no update was accepted this round") }
    }
}
