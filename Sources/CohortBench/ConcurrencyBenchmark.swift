import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `cohort bench nodes`: how many nodes one coordinator carries through a full round on
/// loopback. Coordinator and nodes run in this one process (each node on its own thread with
/// its own TCP connection), so the count is bounded by threads and file descriptors, which are
/// raised to the hard limit first.
public enum ConcurrencyBenchmark {
    /// The outcome for one node count.
    public struct Result: Codable, Sendable {
        public var nodes: Int
        public var accepted: Int
        public var roundSeconds: Double
        public var wallSeconds: Double
        public var openFileLimit: Int
    }

    /// Runs one round with `nodes` connected nodes (logistic regression, 8 samples each).
    public static func run(nodes: Int, timeout: Double = 120, progress: (String) -> Void = { _ in }) throws -> Result {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let start = Date()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-bench-nodes-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Sequential(spec: ModelSpec(inputShape: [4], layers: [LayerSpec(.dense, name: "head", units: 2)]), seed: 1)
        let names = (0..<nodes).map { "n\($0)" }
        func secret(_ i: Int) -> [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0) } }
        let config = Coordinator.Config.benchRound(outDir: dir.path, nodes: nodes,
                                                   secrets: Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, secret($0.offset)) }),
                                                   timeout: timeout)
        let coordinator = try Coordinator(config: config, initial: Checkpoint(model: model, metadata: CheckpointMetadata(source: "bench")),
                                          strategy: FedAvg())
        let port = coordinator.port
        let data = LabelledData(inputs: Tensor(shape: [8, 4], data: (0..<32).map { Float($0 % 7) / 7 }), labels: (0..<8).map { $0 % 2 })
        let group = DispatchGroup()
        for (i, name) in names.enumerated() {
            group.enter()
            let key = secret(i)
            let thread = Thread {
                defer { group.leave() }
                var c = FederatedNode.Config(host: "127.0.0.1", port: port, name: name, secret: key, tls: nil, train: data, validation: data)
                c.timeout = timeout
                c.connectAttempts = 20
                _ = try? FederatedNode(config: c).run()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        let records = try coordinator.run()
        _ = group.wait(timeout: .now() + 30)
        let result = Result(nodes: nodes, accepted: records.first?.accepted.count ?? 0, roundSeconds: records.first?.seconds ?? .nan,
                            wallSeconds: Date().timeIntervalSince(start), openFileLimit: Int(limit.rlim_cur))
        progress("nodes \(nodes): \(result.accepted) updates aggregated, round \(String(format: "%.2f", result.roundSeconds)) s, wall \(String(format: "%.1f", result.wallSeconds)) s")
        return result
    }
}
