import CohortCheckpoint
import CohortTensor

/// Screens every update of a round before another strategy aggregates it (`UpdateScreeningPlan`):
/// it holds the round's updates whole, and at the end of the round bounds each one's L2 norm by
/// the smaller of the absolute bound and a multiple of the round's median norm (clipping or
/// rejecting it), caps its sample weight, and hands the screened updates, in the order they
/// came, to `base`. `screen` gives the verdict per update, in that order, before `finish`.
/// Memory grows with the number of updates, as for the robust strategies.
public final class ScreenedAggregation: AggregationStrategy {
    /// What screening did to one update.
    public enum Verdict: Equatable, Sendable, CustomStringConvertible {
        case kept
        /// Its sample weight was capped (`from` → `to`).
        case weightCapped(from: Int, to: Int)
        /// Scaled down from `norm` to `bound` (and possibly weight-capped).
        case clipped(norm: Double, bound: Double, weight: Int)
        /// Left out: its norm was over the bound.
        case rejected(norm: Double, bound: Double)

        public var description: String {
            switch self {
            case .kept: return "kept"
            case .weightCapped(let from, let to): return "sample weight capped from \(from) to \(to)"
            case .clipped(let norm, let bound, let weight): return "clipped: update norm \(Self.format(norm)) over the bound \(Self.format(bound)), scaled to it (weight \(weight))"
            case .rejected(let norm, let bound): return "rejected: update norm \(Self.format(norm)) over the bound \(Self.format(bound))"
            }
        }

        private static func format(_ x: Double) -> String { String(format: "%.4g", x) }
    }

    public let base: AggregationStrategy
    public let plan: UpdateScreeningPlan
    public var name: String { "screened(\(base.name))" }
    private var round = 0
    private var global: [String: Tensor] = [:]
    private var held: [(delta: ModelDelta, samples: Int)] = []
    private var verdicts: [Verdict]?

    public init(base: AggregationStrategy, plan: UpdateScreeningPlan) {
        self.base = base
        self.plan = plan
    }

    public func begin(round: Int, global: [String: Tensor]) {
        self.round = round
        self.global = global
        held = []
        verdicts = nil
    }

    public func accumulate(_ delta: ModelDelta, samples: Int) throws {
        try validate(delta, samples: samples, against: global)
        held.append((delta, samples))
    }

    public var updateCount: Int { held.count }

    /// The bound this round's updates are held to (nil: no norm bound), from their norms.
    static func bound(_ plan: UpdateScreeningPlan, norms: [Double]) -> Double? {
        var bound = plan.maxNorm
        if let multiple = plan.maxNormMultiple, !norms.isEmpty {
            let relative = multiple * median(norms)
            bound = min(bound ?? relative, relative)
        }
        return bound
    }

    /// The largest sample weight this round's updates count with (nil: no cap), from their
    /// announced counts: the smaller of `maxSamples` and `maxSamplesMultiple` × their median
    /// (rounded down, at least 1).
    static func weightCap(_ plan: UpdateScreeningPlan, samples: [Int]) -> Int? {
        var cap = plan.maxSamples
        if let multiple = plan.maxSamplesMultiple, !samples.isEmpty {
            let relative = max(1, Int(min(multiple * median(samples.map(Double.init)), Double(Int.max / 2))))
            cap = min(cap ?? relative, relative)
        }
        return cap
    }

    /// The median of a non-empty list (the mean of the middle two for an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let k = sorted.count
        return k % 2 == 1 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2])
    }

    /// The verdict on every update held, in the order they came (computed once per round).
    public func screen() -> [Verdict] {
        if let verdicts { return verdicts }
        let norms = held.map { Self.norm($0.delta) }
        let bound = Self.bound(plan, norms: norms)
        let cap = Self.weightCap(plan, samples: held.map(\.samples))
        let result: [Verdict] = zip(held, norms).map { update, norm in
            let weight = min(update.samples, cap ?? update.samples)
            if let bound, !(norm <= bound) {
                return plan.action == .reject ? .rejected(norm: norm, bound: bound) : .clipped(norm: norm, bound: bound, weight: weight)
            }
            return weight < update.samples ? .weightCapped(from: update.samples, to: weight) : .kept
        }
        verdicts = result
        return result
    }

    public func finish() throws -> [String: Tensor] {
        let verdicts = screen()
        base.begin(round: round, global: global)
        for (update, verdict) in zip(held, verdicts) {
            switch verdict {
            case .kept: try base.accumulate(update.delta, samples: update.samples)
            case .weightCapped(_, let to): try base.accumulate(update.delta, samples: to)
            case .clipped(let norm, let bound, let weight): try base.accumulate(Self.scaled(update.delta, by: bound / norm), samples: weight)
            case .rejected: continue
            }
        }
        held = []
        return try base.finish()
    }

    /// The L2 norm of all of `delta`'s values, in double precision (never overflows for Float input).
    static func norm(_ delta: ModelDelta) -> Double {
        var sum = 0.0
        for name in delta.names { for v in delta[name]!.data { sum += Double(v) * Double(v) } }
        return sum.squareRoot()
    }

    private static func scaled(_ delta: ModelDelta, by factor: Double) throws -> ModelDelta {
        let f = Float(factor)
        return try ModelDelta(delta.names.map { name in
            var t = delta[name]!
            for i in t.data.indices { t.data[i] *= f }
            return (name, t)
        })
    }
}
