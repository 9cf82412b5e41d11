import CohortCheckpoint
import CohortTensor

/// Screens every update of a round before another strategy aggregates it (`UpdateScreeningPlan`):
/// it holds the round's updates whole, and at the end of the round bounds each one's L2 norm by
/// the smaller of the absolute bound and a multiple of the round's median norm (clipping or
/// rejecting it), caps its sample weight, and hands the screened updates, in the order they
/// came, to `base`. `screen` gives the verdict per update, in that order, before `finish`.
/// Memory grows with the number of updates, as for the robust strategies.
///
/// A coordinator hands it updates as the checked tensor records the delta decoder gave
/// (`accumulate(records:samples:)`, still in their wire encoding): their norm is the decoder's
/// sum of squares, taken in the same read that checked them (`Float32Scan`), so nothing is
/// decoded or read again to screen them, and a base that folds records (FedAvg, FedProx, FedBN,
/// the server optimizers) folds them at `finish` straight from those bytes, one tensor at a
/// time, each update's records released as soon as they are folded (the same bits as folding
/// the decoded updates). A clipped update is decoded, scaled and folded as before.
public final class ScreenedAggregation: AggregationStrategy, WholeRecordIntake {
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

    /// One update held until the round ends: decoded, or as its checked wire records.
    private struct Held {
        var delta: ModelDelta?
        var records: [DeltaRecord]
        let samples: Int
        let norm: Double
    }

    public let base: AggregationStrategy
    public let plan: UpdateScreeningPlan
    public var name: String { "screened(\(base.name))" }
    private var round = 0
    private var global: [String: Tensor] = [:]
    private var held: [Held] = []
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
        held.append(Held(delta: delta, records: [], samples: samples, norm: Self.norm(delta)))
    }

    /// Holds one update given as checked records (each owning its bytes, at most one per
    /// tensor): the delta decoder checked their structure and values against the global
    /// model's shapes; the names, shapes and sample count are checked again here. The norm is
    /// the records' sums of squares (decoded values for float16 and int8 records).
    public func accumulate(records: [DeltaRecord], samples: Int) throws {
        guard samples > 0 else { throw AggregationError("update with \(samples) samples: the sample count must be positive") }
        var names = Set<String>()
        var sumOfSquares = 0.0
        for record in records {
            guard let g = global[record.name] else { throw AggregationError("update names '\(record.name)', which the global model does not have") }
            guard record.shape == g.shape else { throw AggregationError("update '\(record.name)' has shape \(record.shape), the global model \(g.shape)") }
            guard names.insert(record.name).inserted else { throw AggregationError("update carries '\(record.name)' twice") }
            guard record.isOwned else { throw AggregationError("update record '\(record.name)' does not own its bytes") }
            if let s = record.sumOfSquares {
                sumOfSquares += s
            } else {
                for v in record.decoded().data { sumOfSquares += Double(v) * Double(v) }
            }
        }
        guard sumOfSquares.isFinite else { throw AggregationError("update's sum of squares is not finite") }
        held.append(Held(delta: nil, records: records, samples: samples, norm: sumOfSquares.squareRoot()))
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
        let norms = held.map(\.norm)
        let bound = Self.bound(plan, norms: norms)
        let cap = Self.weightCap(plan, samples: held.map(\.samples))
        let result: [Verdict] = held.map { update in
            let weight = min(update.samples, cap ?? update.samples)
            if let bound, !(update.norm <= bound) {
                return plan.action == .reject ? .rejected(norm: update.norm, bound: bound) : .clipped(norm: update.norm, bound: bound, weight: weight)
            }
            return weight < update.samples ? .weightCapped(from: update.samples, to: weight) : .kept
        }
        verdicts = result
        return result
    }

    public func finish() throws -> [String: Tensor] {
        let verdicts = screen()
        base.begin(round: round, global: global)
        var updates = held
        held = []
        if let folder = base.recordFolding, updates.allSatisfy({ $0.delta == nil }) {
            try Self.foldRecords(&updates, verdicts: verdicts, into: folder)
            return try base.finish()
        }
        for (k, verdict) in verdicts.enumerated() {
            let update = updates[k]
            updates[k].records = []   // decoded one at a time; its bytes go as it is handed on
            let delta = try update.delta ?? ModelDelta(update.records.map { ($0.name, $0.decoded()) })
            switch verdict {
            case .kept: try base.accumulate(delta, samples: update.samples)
            case .weightCapped(_, let to): try base.accumulate(delta, samples: to)
            case .clipped(let norm, let bound, let weight): try base.accumulate(Self.scaled(delta, by: bound / norm), samples: weight)
            case .rejected: continue
            }
        }
        return try base.finish()
    }

    /// Folds the kept updates' records into `folder`, tensor by tensor in the order they first
    /// appear, updates in the order they came (so every element sees the fused multiply-adds of
    /// `accumulate` on the decoded updates, in the same order): runs of unclipped records in one
    /// pass, a clipped record decoded and scaled as `scaled` does. Each tensor's records are
    /// released once folded.
    private static func foldRecords(_ updates: inout [Held], verdicts: [Verdict], into folder: RecordFolding) throws {
        var weights: [Double?] = verdicts.map { verdict in
            switch verdict {
            case .kept: return nil
            case .weightCapped(_, let to): return Double(to)
            case .clipped(_, _, let weight): return Double(weight)
            case .rejected: return nil
            }
        }
        for (k, verdict) in verdicts.enumerated() {
            if case .kept = verdict { weights[k] = Double(updates[k].samples) }
            if case .rejected = verdict { updates[k].records = [] }
        }
        var tensorOrder: [String] = []
        var seen = Set<String>()
        for update in updates { for record in update.records where seen.insert(record.name).inserted { tensorOrder.append(record.name) } }
        for tensor in tensorOrder {
            var run: [DeltaRecord] = [], runWeights: [Double] = []
            func flush() {
                if !run.isEmpty { folder.fold(tensor: tensor, records: run, weights: runWeights) }
                run = []
                runWeights = []
            }
            for k in updates.indices {
                guard let weight = weights[k], let at = updates[k].records.firstIndex(where: { $0.name == tensor }) else { continue }
                let record = updates[k].records.remove(at: at)
                if case .clipped(let norm, let bound, _) = verdicts[k] {
                    flush()
                    var t = record.decoded()
                    let f = Float(bound / norm)
                    for i in t.data.indices { t.data[i] *= f }
                    DeltaRecord.withView(of: t, name: tensor) { folder.fold(tensor: tensor, records: [$0], weights: [weight]) }
                } else {
                    run.append(record)
                    runWeights.append(weight)
                }
            }
            flush()
        }
        for weight in weights where weight != nil { folder.countUpdate() }
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
