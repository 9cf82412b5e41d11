import CohortCheckpoint
import CohortFederation
import CohortTensor
import Foundation

extension LargeModelBenchmark {
    /// The node side's choices for a run (issue 19's 750M run): what the plan trains, whether
    /// the final model is checked against a reference, whether the in-process stages run.
    public struct NodeSideOptions: Sendable {
        /// The plan's `trainablePrefixes` (nil: every tensor trains).
        public var trainablePrefixes: [String]?
        /// Nodes save their trained tensors and the final global model is checked (`ReferenceCheck`).
        public var reference = false
        /// Skip the in-process stages (the real run only: less time, and no model copies held
        /// by this process before the processes start).
        public var skipStages = false
        /// Rounds of the real run (the first is cold: every buffer is new memory; later ones
        /// reuse the processes' buffers). The reference check needs 1.
        public var rounds = 1
        /// Nodes keep the received global model in memory (`cohort node --global-in-memory`).
        public var globalInMemory = false
        public init(trainablePrefixes: [String]? = nil, reference: Bool = false, skipStages: Bool = false, rounds: Int = 1,
                    globalInMemory: Bool = false) {
            self.trainablePrefixes = trainablePrefixes
            self.reference = reference
            self.skipStages = skipStages
            self.rounds = rounds
            self.globalInMemory = globalInMemory
        }
    }

    /// The real run's final global model against a reference computed another way: FedAvg in
    /// this process of the tensors each node trained (`cohort node --save-trained`) over the
    /// initial checkpoint, folded in the order the coordinator logged, compared bit for bit
    /// with the coordinator's journaled `global.ckpt` (every tensor, trained or not).
    public struct ReferenceCheck: Codable, Sendable {
        /// True when every tensor of the journal's global model equals the reference bit for bit.
        public var equal: Bool
        public var tensors: Int
        public var values: Int
        /// The tensors the nodes trained and sent (the rest must equal the initial checkpoint).
        public var trainedTensors: [String]
        /// The nodes in the order the reference folded their updates: the coordinator's, from its
        /// log, when it logs them (updates of 64 MiB or more); else each order was tried and this
        /// is the one that matched (or the first, when none did).
        public var foldOrder: [String]
        /// Whether `foldOrder` is the coordinator's logged one (false: found by trying each order).
        public var foldOrderLogged: Bool
        /// The first differences found (tensor, element, both values), if any.
        public var mismatches: [String]
        public var method: String
    }

    /// Checks the journal's global model of the run in `dir` (nodes `site0`… with `rows` samples each).
    static func referenceCheck(dir: String, nodes: Int, rows: Int, progress: (String) -> Void) throws -> ReferenceCheck {
        func p(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        let log = try String(contentsOfFile: p("coordinator.log"), encoding: .utf8)
        // "coordinator: round 1: UPDATE of 'site0' (… bytes) received, checked and folded in …"
        let logged: [String] = log.split(separator: "\n").compactMap { line in
            guard line.contains("round 1: UPDATE of '"), line.contains("folded"),
                  let open = line.range(of: "UPDATE of '"), let close = line[open.upperBound...].firstIndex(of: "'") else { return nil }
            return String(line[open.upperBound..<close])
        }
        let sites = (0..<nodes).map { "site\($0)" }
        let loggedOrder = Set(logged) == Set(sites) && logged.count == nodes
        // Without the coordinator's order (it logs only large updates), every order is tried.
        let orders = loggedOrder ? [logged] : permutations(sites)
        var global: [String: Tensor] = [:]
        for (name, value) in try CheckpointFile.load(p("init.ckpt")).tensors { global[name] = value }
        var trained: Set<String> = []
        var first: (order: [String], mismatches: [String], values: Int)?
        // One site's tensors and delta at a time, the journal read after the fold: the check
        // holds about four models at once (a 3 GB model's fits beside the page cache).
        for order in orders {
            progress("large-model: reference check: FedAvg of the nodes' trained tensors over init.ckpt, folded in order \(order)"
                     + (loggedOrder ? " (the coordinator's, from its log)" : " (one of \(orders.count) orders tried: the coordinator did not log its order)"))
            let strategy = FedAvg()
            strategy.begin(round: 1, global: global)
            for site in order {
                let local = try Safetensors.load(p("trained\(sites.firstIndex(of: site) ?? 0).safetensors")).tensors
                trained.formUnion(local.map(\.name))
                let delta = try ModelDelta(local: local, global: global.map { ($0.key, $0.value) }, trainable: Set(local.map(\.name)))
                try strategy.accumulate(delta, samples: rows)
            }
            let reference = try strategy.finish()
            let (mismatches, values) = compare(try CheckpointFile.load(p("journal/global.ckpt")).tensors, reference)
            if first == nil { first = (order, mismatches, values) }
            if mismatches.isEmpty { first = (order, mismatches, values); break }
        }
        let (order, mismatches, values) = first!
        let check = ReferenceCheck(equal: mismatches.isEmpty, tensors: global.count, values: values, trainedTensors: trained.sorted(),
                                   foldOrder: order, foldOrderLogged: loggedOrder, mismatches: Array(mismatches.prefix(10)),
                                   method: "each node's trained tensors (cohort node --save-trained, safetensors) minus init.ckpt's (ModelDelta), "
                                       + "folded by FedAvg (\(rows) samples each) over init.ckpt in this process, in the coordinator's logged order "
                                       + "(or, when it logs none, each order in turn until one matches); compared bit for bit with journal/global.ckpt")
        progress("large-model: reference check: \(check.equal ? "EQUAL" : "DIFFERENT"), \(check.tensors) tensors, \(check.values) values"
                 + (mismatches.isEmpty ? "" : ": \(mismatches.prefix(3).joined(separator: "; "))"))
        return check
    }

    /// Every ordering of `items`.
    static func permutations(_ items: [String]) -> [[String]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { i in
            permutations(Array(items[..<i] + items[(i + 1)...])).map { [items[i]] + $0 }
        }
    }

    /// Differences between the journal's tensors and the reference's (at most one per tensor), and the values compared.
    static func compare(_ journal: [(name: String, value: Tensor)], _ reference: [String: Tensor]) -> (mismatches: [String], values: Int) {
        var mismatches: [String] = []
        var values = 0
        for (name, value) in journal {
            values += value.count
            guard let r = reference[name] else { mismatches.append("'\(name)': not in the reference"); continue }
            guard r.shape == value.shape else { mismatches.append("'\(name)': shape \(value.shape), reference \(r.shape)"); continue }
            let same = value.data.withUnsafeBytes { a in r.data.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }
            if !same, let i = (0..<value.count).first(where: { value.data[$0].bitPattern != r.data[$0].bitPattern }) {
                mismatches.append("'\(name)'[\(i)]: journal \(value.data[i]), reference \(r.data[i])")
            }
        }
        for name in reference.keys where !journal.contains(where: { $0.name == name }) { mismatches.append("'\(name)': not in the journal") }
        return (mismatches, values)
    }
}
