import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// The smallest federation the role tests need: a 2→2 linear model (or another `spec`), eight samples per node,
/// a coordinator on a free loopback port journaling to a temporary folder.
enum TinyFederation {
    static let data = LabelledData(inputs: Tensor(shape: [8, 2], data: (0..<16).map { Float($0 % 5) }), labels: (0..<8).map { $0 % 2 })

    /// A 16-byte secret for node `index`.
    static func secret(_ index: Int) -> [UInt8] { [UInt8](repeating: UInt8(index + 1), count: 16) }

    /// A coordinator for `nodes` (secrets from `secret(_:)` by position), adjusted by `configure`;
    /// `cleanup` removes its journal folder.
    static func coordinator(nodes: [String], spec: ModelSpec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)]),
                            configure: (inout Coordinator.Config) -> Void) throws -> (coordinator: Coordinator, cleanup: () -> Void) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-tiny-\(UUID().uuidString)")
        let model = try Sequential(spec: spec, seed: 1)
        var config = Coordinator.Config(outDir: dir.path)
        config.port = 0
        config.waitForNodes = 20
        config.secrets = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($0.element, secret($0.offset)) })
        configure(&config)
        let coordinator = try Coordinator(config: config, initial: Checkpoint(model: model, metadata: CheckpointMetadata(source: "test")),
                                          strategy: FedAvg())
        return (coordinator, { try? FileManager.default.removeItem(at: dir) })
    }

    /// A node configuration for `name` holding `secret`, dialling `port` on loopback.
    static func node(_ name: String, secret: [UInt8], port: UInt16) -> FederatedNode.Config {
        FederatedNode.Config(host: "127.0.0.1", port: port, name: name, secret: secret, tls: nil, train: data, validation: data)
    }
}

/// Outcomes written by node threads and read by the test, under a lock.
final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: String] = [:]
    func set(_ k: String, _ v: String) { lock.lock(); values[k] = v; lock.unlock() }
    func get(_ k: String) -> String? { lock.lock(); defer { lock.unlock() }; return values[k] }
}

/// Log lines written by a role's threads and read by the test, under a lock.
final class LogBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.withLock { lines.append(s) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") } }
}
