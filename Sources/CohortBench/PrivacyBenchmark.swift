import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// `cohort bench privacy`: what secure aggregation costs per round against plain FedAvg, for n
/// nodes and a model of about a million parameters. Every party's work runs in this process,
/// one after the other, through the code a real round runs — update encoding, the
/// secure-aggregation state machines, the SECAGG_* wire encodings (JSON headers, masked-word
/// bodies) and the coordinator's decoding and averaging — and is timed with the thread's CPU
/// clock; bytes are the payloads each side would send. Sockets, TLS and training are left out:
/// they cost the same with and without secure aggregation.
public enum PrivacyBenchmark {
    /// CPU seconds and bytes of one round for one protocol.
    public struct RoundCost: Codable, Sendable {
        /// CPU seconds one node spends (median over the nodes of the round).
        public var nodeCPUSeconds: Double
        /// CPU seconds the coordinator spends on the round (receiving, unmasking, averaging).
        public var coordinatorCPUSeconds: Double
        /// Bytes one node sends (the median node).
        public var bytesUpPerNode: Int
        /// Bytes the coordinator sends one node (the MODEL and, under secure aggregation, the
        /// roster, its share bundles and the survivor list).
        public var bytesDownPerNode: Int
    }

    /// One configuration, measured `repeats` times; the median round is reported.
    public struct Case: Codable, Sendable {
        public var nodes: Int
        public var parameters: Int
        public var threshold: Int
        /// Nodes that drop after sharing their keys (their masks are rebuilt by the coordinator).
        public var dropouts: Int
        public var plain: RoundCost
        public var secure: RoundCost
        /// Secure aggregation with the consistency round (`secureAggregation.consistencyCheck`):
        /// signed keys and survivor sets, Ed25519 signing and verification at every node.
        public var consistent: RoundCost?
        /// secure ÷ plain.
        public var nodeCPURatio: Double
        public var coordinatorCPURatio: Double
        public var bytesUpRatio: Double
        /// consistent ÷ plain.
        public var consistentNodeCPURatio: Double?
        public var consistentCoordinatorCPURatio: Double?
        public var consistentBytesUpRatio: Double?
    }

    /// The whole report.
    public struct Report: Codable, Sendable {
        public var model: String
        public var parameters: Int
        public var repeats: Int
        public var cases: [Case]
    }

    /// Seconds of CPU time used by the calling thread.
    static func threadCPU() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Adds the thread CPU time of `body` to `total`.
    static func timed<T>(_ total: inout Double, _ body: () throws -> T) rethrows -> T {
        let start = threadCPU()
        defer { total += threadCPU() - start }
        return try body()
    }

    /// An MLP `inputs → hidden → 10` with about `params` parameters.
    static func model(params: Int) throws -> Sequential {
        let side = max(8, Int((Double(params)).squareRoot()))
        return try Sequential(spec: ModelSpec(inputShape: [side], layers: [LayerSpec(.dense, name: "features.0", units: side),
                                                                           LayerSpec(.relu, name: "features.1"),
                                                                           LayerSpec(.dense, name: "head", units: 10)]), seed: 1)
    }

    /// A node's update: small seeded values on every tensor.
    static func delta(_ model: Sequential, node: Int) throws -> ModelDelta {
        var rng = SeededRandom(seed: 1000 + UInt64(node))
        return try ModelDelta(model.stateDict().map { ($0.name, Tensor(shape: $0.value.shape, data: (0..<$0.value.count).map { _ in rng.normal() * 1e-3 })) })
    }

    /// Measures every node count in `nodes` with `dropouts` nodes dropping after key sharing.
    public static func run(nodes: [Int], params: Int, dropouts: Int, repeats: Int, progress: (String) -> Void = { _ in }) throws -> Report {
        let model = try model(params: params)
        var cases: [Case] = []
        for n in nodes {
            var plains: [RoundCost] = [], secures: [RoundCost] = [], consistents: [RoundCost] = []
            var threshold = 0
            let identities = try benchIdentities(n)
            for r in 0..<repeats {
                plains.append(try plainRound(model: model, nodes: n))
                let (cost, t) = try secureRound(model: model, nodes: n, dropouts: dropouts, round: UInt64(r + 1))
                secures.append(cost)
                threshold = t
                consistents.append(try secureRound(model: model, nodes: n, dropouts: dropouts, round: UInt64(r + 1), identities: identities).0)
            }
            let plain = median(plains), secure = median(secures), consistent = median(consistents)
            var c = Case(nodes: n, parameters: model.parameterCount, threshold: threshold, dropouts: dropouts, plain: plain, secure: secure,
                         nodeCPURatio: secure.nodeCPUSeconds / plain.nodeCPUSeconds,
                         coordinatorCPURatio: secure.coordinatorCPUSeconds / plain.coordinatorCPUSeconds,
                         bytesUpRatio: Double(secure.bytesUpPerNode) / Double(plain.bytesUpPerNode))
            c.consistent = consistent
            c.consistentNodeCPURatio = consistent.nodeCPUSeconds / plain.nodeCPUSeconds
            c.consistentCoordinatorCPURatio = consistent.coordinatorCPUSeconds / plain.coordinatorCPUSeconds
            c.consistentBytesUpRatio = Double(consistent.bytesUpPerNode) / Double(plain.bytesUpPerNode)
            progress(String(format: "%d nodes, %d dropout(s): node CPU %.4f s plain vs %.4f s secure vs %.4f s with the consistency round; "
                            + "coordinator %.3f s vs %.3f s vs %.3f s; up %d vs %d vs %d bytes per node; down %d vs %d vs %d",
                            n, dropouts, plain.nodeCPUSeconds, secure.nodeCPUSeconds, consistent.nodeCPUSeconds,
                            plain.coordinatorCPUSeconds, secure.coordinatorCPUSeconds, consistent.coordinatorCPUSeconds,
                            plain.bytesUpPerNode, secure.bytesUpPerNode, consistent.bytesUpPerNode,
                            plain.bytesDownPerNode, secure.bytesDownPerNode, consistent.bytesDownPerNode))
            cases.append(c)
        }
        let layers = model.spec.layers.filter { $0.kind == .dense }.map { "\($0.units ?? 0)" }.joined(separator: "-")
        return Report(model: "MLP \(model.inputShape[0])-\(layers)", parameters: model.parameterCount, repeats: repeats, cases: cases)
    }

    /// Signing identities for nodes "node-0001"… (ids 1…n in sorted order), fresh keys.
    static func benchIdentities(_ n: Int) throws -> [SecureAggregation.Identity] {
        let names = (1...n).map { String(format: "node-%04d", $0) }
        let seeds = names.map { _ in CryptoRandom.system().bytes(32) }
        var peers: [String: [UInt8]] = [:]
        for (name, seed) in zip(names, seeds) { peers[name] = try SecureAggregation.Identity.publicKey(seed: seed) }
        return try zip(names, seeds).map { try SecureAggregation.Identity(name: $0.0, seed: $0.1, peers: peers) }
    }

    private static func median(_ costs: [RoundCost]) -> RoundCost {
        RoundCost(nodeCPUSeconds: BenchTiming.median(costs.map(\.nodeCPUSeconds)), coordinatorCPUSeconds: BenchTiming.median(costs.map(\.coordinatorCPUSeconds)),
                  bytesUpPerNode: Int(BenchTiming.median(costs.map { Double($0.bytesUpPerNode) })),
                  bytesDownPerNode: Int(BenchTiming.median(costs.map { Double($0.bytesDownPerNode) })))
    }

    private static func modelPayload(_ model: Sequential, round: Int, plan: TrainingPlan, assignment: SecureAggregationMessages.Assignment?) throws -> [UInt8] {
        var header = RoundMessages.ModelHeader(round: round, modelVersion: round - 1, plan: plan, architecture: model.spec)
        header.secureAggregation = assignment
        header.modelDigest = ModelDigest.hex(model.stateDict())
        return try RoundMessages.payload(header, body: try RoundMessages.weightsBody(model.stateDict()))
    }

    /// Plain FedAvg: each node encodes its float32 delta into an UPDATE; the coordinator decodes
    /// every update and folds it into a streaming FedAvg.
    static func plainRound(model: Sequential, nodes n: Int) throws -> RoundCost {
        let global = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.value) })
        let shapes = global.mapValues(\.shape)
        let down = try modelPayload(model, round: 1, plan: TrainingPlan(), assignment: nil).count
        let strategy = FedAvg()
        strategy.begin(round: 1, global: global)
        var nodeCPU: [Double] = [], coordinatorCPU = 0.0, up: [Int] = []
        for k in 0..<n {
            let d = try delta(model, node: k)
            var cpu = 0.0
            var feedback = ErrorFeedback()
            let payload = try timed(&cpu) {
                try RoundMessages.payload(RoundMessages.UpdateHeader(round: 1, modelVersion: 0, samples: 100, metrics: ["global_val_accuracy": 0.5]),
                                          body: try FederatedNode.encodeUpdate(d, plan: TrainingPlan(), feedback: &feedback).bytes)
            }
            nodeCPU.append(cpu)
            up.append(payload.count)
            try timed(&coordinatorCPU) {
                let (h, body) = try RoundMessages.parse(payload, as: RoundMessages.UpdateHeader.self)
                let decoded = try DeltaDecoder(expectedShapes: shapes, maxBytes: payload.count + 1 << 20, requireAllTensors: false).decode(body)
                try strategy.accumulate(decoded, samples: h.samples)
            }
        }
        _ = try timed(&coordinatorCPU) { try strategy.finish() }
        return RoundCost(nodeCPUSeconds: BenchTiming.median(nodeCPU), coordinatorCPUSeconds: coordinatorCPU,
                         bytesUpPerNode: Int(BenchTiming.median(up.map(Double.init))), bytesDownPerNode: down)
    }

    /// Secure aggregation: the four steps for n nodes (the first `dropouts` drop after sharing
    /// their keys), with the same update encoding and messages as `Coordinator` and
    /// `FederatedNode`. Returns the cost and the threshold used.
    /// With `identities` (one per node, in id order) the round runs the consistency round.
    static func secureRound(model: Sequential, nodes n: Int, dropouts: Int, round: UInt64,
                            identities: [SecureAggregation.Identity]? = nil) throws -> (RoundCost, Int) {
        var plan = TrainingPlan()
        plan.secureAggregation = SecureAggregationPlan(consistencyCheck: identities != nil)
        let t = plan.secureAggregation!.threshold(participants: n)
        precondition(n - dropouts >= t, "the benchmark's dropouts leave fewer than t nodes")
        let encoding = try SecureUpdateEncoding(plan: plan, architecture: model.spec, participants: n, threshold: t)
        let session = round << 8
        let ids = (1...n).map(UInt32.init)
        let global = model.stateDict()
        var nodeCPU = [Double](repeating: 0, count: n), up = [Int](repeating: 0, count: n), down = [Int](repeating: 0, count: n)
        var coordinatorCPU = 0.0
        let server = try timed(&coordinatorCPU) {
            try SecureAggregation.Server(parameters: .init(round: session, threshold: t, vectorLength: encoding.length))
        }
        for k in 0..<n {
            down[k] += try modelPayload(model, round: Int(round), plan: plan,
                                        assignment: .init(session: session, node: ids[k], threshold: t, participants: n, totalSamples: 100 * n)).count
        }
        // Step 1.
        var clients: [SecureAggregation.Client] = []
        for k in 0..<n {
            let frame = try timed(&nodeCPU[k]) { () throws -> Frame in
                let c = try SecureAggregation.Client(node: ids[k], parameters: .init(round: session, threshold: t, vectorLength: encoding.length), random: .system(),
                                                     identity: identities?[k])
                clients.append(c)
                return try SecureAggregationMessages.frame(.secaggKeys, SecureAggregationMessages.KeysMessage(session: session, keys: .init(try c.advertiseKeys())))
            }
            up[k] += frame.payload.count
            try timed(&coordinatorCPU) { try server.receive(try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.KeysMessage.self, session: session).keys.value) }
        }
        // Step 2.
        let rosterFrame = try timed(&coordinatorCPU) {
            try SecureAggregationMessages.frame(.secaggRoster, SecureAggregationMessages.RosterMessage(session: session, roster: try server.finishAdvertising().map { .init($0) }))
        }
        for k in 0..<n {
            down[k] += rosterFrame.payload.count
            let frame = try timed(&nodeCPU[k]) { () throws -> Frame in
                let roster = try SecureAggregationMessages.parse(rosterFrame, as: SecureAggregationMessages.RosterMessage.self, session: session)
                return try SecureAggregationMessages.frame(.secaggShares, SecureAggregationMessages.SharesMessage(session: session, try clients[k].shareKeys(roster: roster.roster.map(\.value))))
            }
            up[k] += frame.payload.count
            try timed(&coordinatorCPU) { try server.receive(try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.SharesMessage.self, session: session).value) }
        }
        _ = try timed(&coordinatorCPU) { try server.finishSharing() }
        // Step 3: the first `dropouts` nodes are gone.
        for k in dropouts..<n {
            let bundles = try timed(&coordinatorCPU) {
                try SecureAggregationMessages.frame(.secaggBundles, SecureAggregationMessages.BundlesMessage(session: session, bundles: try server.shares(for: ids[k]).map { .init($0) }))
            }
            down[k] += bundles.payload.count
            let d = try delta(model, node: k)
            let frame = try timed(&nodeCPU[k]) { () throws -> Frame in
                let mine = try SecureAggregationMessages.parse(bundles, as: SecureAggregationMessages.BundlesMessage.self, session: session)
                var noise = GaussianNoise.secure()
                let (words, _) = try encoding.words(for: d, weight: 1 / Double(n), noise: &noise)
                let masked = try clients[k].maskInput(words, shares: mine.bundles.map(\.value))
                // Nodes send no scores under secure aggregation. The message's bytes are those of the
                // streamed SECAGG_MASKED (`maskedMessage`), kept in one frame here to be parsed.
                let header = SecureAggregationMessages.MaskedHeader(session: session, node: ids[k], round: Int(round), modelVersion: Int(round) - 1,
                                                                    samples: 100, metrics: [:])
                return try SecureAggregationMessages.frame(.secaggMasked, header, body: SecureAggregationMessages.body(masked.words))
            }
            up[k] += frame.payload.count
            try timed(&coordinatorCPU) {
                let (h, body) = try RoundMessages.parse(frame.payload, as: SecureAggregationMessages.MaskedHeader.self)
                try server.receive(SecureAggregation.MaskedInput(node: h.node, words: try SecureAggregationMessages.words(body, length: encoding.length)))
            }
        }
        // Step 4.
        var survivorsFrame = try timed(&coordinatorCPU) {
            try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: try server.finishMasking()))
        }
        if identities != nil {
            // Consistency round: every survivor signs the set; all signatures go back with it.
            var signatures: [SecureAggregationMessages.SignatureMessage] = []
            for k in dropouts..<n {
                down[k] += survivorsFrame.payload.count
                let frame = try timed(&nodeCPU[k]) { () throws -> Frame in
                    let survivors = try SecureAggregationMessages.parse(survivorsFrame, as: SecureAggregationMessages.SurvivorsMessage.self, session: session)
                    return try SecureAggregationMessages.frame(.secaggSignature, SecureAggregationMessages.SignatureMessage(
                        session: session, node: ids[k], signature: try clients[k].signSurvivors(survivors.survivors)))
                }
                up[k] += frame.payload.count
                try timed(&coordinatorCPU) { signatures.append(try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.SignatureMessage.self, session: session)) }
            }
            survivorsFrame = try timed(&coordinatorCPU) {
                let survivors = try SecureAggregationMessages.parse(survivorsFrame, as: SecureAggregationMessages.SurvivorsMessage.self, session: session).survivors
                return try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: survivors, signatures: signatures))
            }
        }
        for k in dropouts..<n {
            down[k] += survivorsFrame.payload.count
            let frame = try timed(&nodeCPU[k]) { () throws -> Frame in
                let survivors = try SecureAggregationMessages.parse(survivorsFrame, as: SecureAggregationMessages.SurvivorsMessage.self, session: session)
                let unmasking: SecureAggregation.Unmasking
                if let signed = survivors.signatures {
                    var table: [UInt32: [UInt8]] = [:]
                    for s in signed { table[s.node] = Array(s.signature) }
                    unmasking = try clients[k].unmask(survivors: survivors.survivors, signatures: table)
                } else {
                    unmasking = try clients[k].unmask(survivors: survivors.survivors)
                }
                return try SecureAggregationMessages.frame(.secaggUnmask, SecureAggregationMessages.UnmaskMessage(session: session, unmasking))
            }
            up[k] += frame.payload.count
            try timed(&coordinatorCPU) { try server.receive(try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.UnmaskMessage.self, session: session).value()) }
        }
        try timed(&coordinatorCPU) {
            let sum = try server.finishUnmasking()
            var noise = GaussianNoise.secure()
            let mean = try encoding.mean(sum: sum, divisor: Double(n - dropouts) / Double(n), centralNoise: 0, noise: &noise)
            _ = global.map { entry in mean[entry.name].map { m in zip(entry.value.data, m.data).map { $0 + $1 } } ?? entry.value.data }
        }
        let survivors = dropouts..<n
        return (RoundCost(nodeCPUSeconds: BenchTiming.median(survivors.map { nodeCPU[$0] }), coordinatorCPUSeconds: coordinatorCPU,
                          bytesUpPerNode: Int(BenchTiming.median(survivors.map { Double(up[$0]) })),
                          bytesDownPerNode: Int(BenchTiming.median(survivors.map { Double(down[$0]) }))), t)
    }
}
