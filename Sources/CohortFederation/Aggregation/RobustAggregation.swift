import CohortCheckpoint
import CohortTensor

/// Byzantine-robust aggregation: coordinate-wise median, or trimmed mean (drop the `trim`
/// fraction of largest and smallest values per coordinate, at least one each once there are
/// three updates, average the rest; Yin et al. 2018).
/// Sample counts are ignored, so one node cannot buy influence by claiming more samples.
/// Unlike FedAvg these must hold every update of the round: memory grows with the node count.
public final class RobustAggregation: AggregationStrategy {
    /// Which robust statistic.
    public enum Rule: Equatable, Sendable { case median, trimmedMean(trim: Double) }

    public let rule: Rule
    public var name: String {
        switch rule {
        case .median: return "median"
        case .trimmedMean(let t): return "trimmed-mean(\(t))"
        }
    }
    private var global: [String: Tensor] = [:]
    private var updates: [ModelDelta] = []

    /// A robust strategy; `trim` must be in [0, 0.5).
    public init(_ rule: Rule) {
        if case .trimmedMean(let t) = rule { precondition(t >= 0 && t < 0.5, "trim fraction must be in [0, 0.5), got \(t)") }
        self.rule = rule
    }

    public func begin(round: Int, global: [String: Tensor]) {
        self.global = global
        updates = []
    }

    public func accumulate(_ delta: ModelDelta, samples: Int) throws {
        try validate(delta, samples: samples, against: global)
        updates.append(delta)
    }

    public var updateCount: Int { updates.count }

    public func finish() throws -> [String: Tensor] {
        guard !updates.isEmpty else { throw AggregationError("\(name): no update was accepted this round") }
        var combined: [String: Tensor] = [:]
        let names = Set(updates.flatMap(\.names))
        for name in names {
            let columns = updates.compactMap { $0[name] }
            let n = columns[0].count, k = columns.count
            var out = [Float](repeating: 0, count: n)
            var scratch = [Float](repeating: 0, count: k)
            let drop: Int
            switch rule {
            case .median: drop = 0
            // From three updates on at least one is trimmed at each end, so a single outlier
            // never survives (Int(k · t) alone trims nothing below 1/t updates).
            case .trimmedMean(let t): drop = t > 0 && k >= 3 ? max(1, min(Int(Double(k) * t), (k - 1) / 2)) : 0
            }
            for i in 0..<n {
                for j in 0..<k { scratch[j] = columns[j].data[i] }
                scratch.sort()
                switch rule {
                case .median:
                    out[i] = k % 2 == 1 ? scratch[k / 2] : 0.5 * (scratch[k / 2 - 1] + scratch[k / 2])
                case .trimmedMean:
                    var s: Float = 0
                    for j in drop..<(k - drop) { s += scratch[j] }
                    out[i] = s / Float(k - 2 * drop)
                }
            }
            combined[name] = Tensor(shape: [n], data: out)
        }
        return apply(mean: combined, to: global, scale: 1)
    }
}
