import CohortCheckpoint

/// Folds a round's updates into a strategy in a fixed order (the participants' name order)
/// whatever order they arrive in: an update is folded as soon as every earlier participant has
/// been folded or has failed, else it waits. Floating-point sums then do not depend on network
/// timing, so a resumed run reproduces an uninterrupted one. Memory grows only with updates that
/// arrive ahead of a slower, earlier-named node. Used only under the coordinator's lock.
final class OrderedFold: @unchecked Sendable {
    private let order: [String]
    private var next = 0
    private var waiting: [String: (delta: ModelDelta, samples: Int)] = [:]
    private var failed = Set<String>()
    private let strategy: AggregationStrategy

    init(participants: [String], strategy: AggregationStrategy) {
        order = participants
        self.strategy = strategy
    }

    /// Offers a participant's update; folds whatever is now in order. Returns the participants
    /// whose updates the strategy rejected, with the reason.
    func offer(_ name: String, delta: ModelDelta, samples: Int) -> [String: String] {
        waiting[name] = (delta, samples)
        return drain()
    }

    /// Marks a participant as having no update this round.
    func fail(_ name: String) -> [String: String] {
        failed.insert(name)
        return drain()
    }

    /// Folds everything still waiting, in order, skipping the gaps (at the round's close).
    func close() -> [String: String] {
        for name in order[next...] where waiting[name] == nil { failed.insert(name) }
        return drain()
    }

    /// Names folded so far, in order.
    private(set) var folded: [String] = []

    private func drain() -> [String: String] {
        var rejected: [String: String] = [:]
        while next < order.count {
            let name = order[next]
            if failed.contains(name) { next += 1; continue }
            guard let update = waiting.removeValue(forKey: name) else { break }
            do {
                try strategy.accumulate(update.delta, samples: update.samples)
                folded.append(name)
            } catch {
                rejected[name] = "\(error)"
            }
            next += 1
        }
        return rejected
    }
}
