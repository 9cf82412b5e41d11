import CohortCheckpoint
import CohortTensor

/// Krum and Multi-Krum (Blanchard et al. 2017): each update is scored by the sum of squared
/// distances to its n − f − 2 nearest other updates; Krum takes the update with the lowest
/// score, Multi-Krum the mean of the n − f lowest. f, the number of hostile updates tolerated,
/// is the most the round's size allows, ⌊(n − 3)/2⌋, and at least 1 once n ≥ 3, so even four
/// sites keep one outlier out. Sample counts are ignored. Needs every update whole.
public final class Krum: AggregationStrategy {
    /// Whether it averages the best n − f updates (Multi-Krum) or takes the single best.
    public let multi: Bool
    public var name: String { multi ? "multi-krum" : "krum" }
    private var global: [String: Tensor] = [:]
    private var updates: [ModelDelta] = []
    /// The updates chosen last round, by position in arrival order.
    public private(set) var selected: [Int] = []

    public init(multi: Bool) { self.multi = multi }

    public func begin(round: Int, global: [String: Tensor]) {
        self.global = global
        updates = []
        selected = []
    }

    public func accumulate(_ delta: ModelDelta, samples: Int) throws {
        try validate(delta, samples: samples, against: global)
        updates.append(delta)
    }

    public var updateCount: Int { updates.count }

    /// f for a round of `n` updates.
    static func tolerated(_ n: Int) -> Int { n >= 3 ? max(1, (n - 3) / 2) : 0 }

    public func finish() throws -> [String: Tensor] {
        guard !updates.isEmpty else { throw AggregationError("\(name): no update was accepted this round") }
        let names = Set(updates.flatMap(\.names)).sorted()
        let n = updates.count, f = Self.tolerated(n)
        // Squared distances in double precision (missing tensors count as zeros).
        var distance = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) {
                var d = 0.0
                for name in names {
                    let a = updates[i][name]?.data, b = updates[j][name]?.data
                    let count = a?.count ?? b?.count ?? 0
                    for e in 0..<count {
                        let x = Double(a?[e] ?? 0) - Double(b?[e] ?? 0)
                        d += x * x
                    }
                }
                distance[i][j] = d
                distance[j][i] = d
            }
        }
        let neighbours = max(1, min(n - 1, n - f - 2))
        let scores: [Double] = (0..<n).map { i in
            guard n > 1 else { return 0 }
            let others = (0..<n).filter { $0 != i }.map { distance[i][$0] }.sorted()
            return others.prefix(neighbours).reduce(0, +)
        }
        let order = (0..<n).sorted { scores[$0] != scores[$1] ? scores[$0] < scores[$1] : $0 < $1 }
        selected = Array(order.prefix(multi ? max(1, n - f) : 1)).sorted()
        var mean: [String: Tensor] = [:]
        for name in names {
            let carried = selected.compactMap { updates[$0][name] }
            guard let first = carried.first else { continue }
            var sum = [Double](repeating: 0, count: first.count)
            for t in carried { for e in 0..<sum.count { sum[e] += Double(t.data[e]) } }
            mean[name] = Tensor(shape: [sum.count], data: sum.map { Float($0 / Double(carried.count)) })
        }
        return apply(mean: mean, to: global, scale: 1)
    }
}
