import XCTest
import CohortBench
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

final class HeartbeatTests: XCTestCase {
    /// A node with a 1 s silence limit joins 2.5 s before the second node: without heartbeats
    /// it would give up while the coordinator waits; with them the run completes.
    func testAnEarlyNodeSurvivesTheWaitOnHeartbeats() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-hb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)]), seed: 1)
        var config = Coordinator.Config(outDir: dir.path)
        config.port = 0
        config.rounds = 2
        config.minNodes = 2
        config.waitForNodes = 20
        config.heartbeatInterval = 0.2
        let secrets: [String: [UInt8]] = ["a": [UInt8](repeating: 1, count: 16), "b": [UInt8](repeating: 2, count: 16)]
        config.secrets = secrets
        let coordinator = try Coordinator(config: config, initial: Checkpoint(model: model, metadata: CheckpointMetadata(source: "t")),
                                          strategy: FedAvg())
        let port = coordinator.port
        let data = LabelledData(inputs: Tensor(shape: [8, 2], data: (0..<16).map { Float($0 % 5) }), labels: (0..<8).map { $0 % 2 })
        let results = ResultsBox()
        let done = DispatchGroup()
        for (name, delay) in [("a", 0.0), ("b", 2.5)] {
            done.enter()
            let secret = secrets[name]!
            Thread {
                defer { done.leave() }
                Thread.sleep(forTimeInterval: delay)
                var c = FederatedNode.Config(host: "127.0.0.1", port: port, name: name, secret: secret, tls: nil, train: data, validation: data)
                c.timeout = 1.0
                do { results.set(name, "rounds \(try FederatedNode(config: c).run())") } catch { results.set(name, "\(error)") }
            }.start()
        }
        let records = try coordinator.run()
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0].accepted, ["a", "b"])
        XCTAssertEqual(results.get("a"), "rounds 2")
        XCTAssertEqual(results.get("b"), "rounds 2")
    }
}

final class ConcurrencyTests: XCTestCase {
    /// Many nodes at once through one full round (the benchmark goes to 2000).
    func testFiftyConcurrentNodesCompleteARound() throws {
        let result = try ConcurrencyBenchmark.run(nodes: 50, timeout: 30)
        XCTAssertEqual(result.accepted, 50)
    }
}

final class SamplingTests: XCTestCase {
    /// Four nodes, fraction 0.5: each round sends the model to exactly two, chosen reproducibly.
    func testFractionSamplesNodesPerRoundReproducibly() throws {
        func run() throws -> [[String]] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-fr-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)]), seed: 1)
            var config = Coordinator.Config(outDir: dir.path)
            config.port = 0
            config.rounds = 4
            config.minNodes = 4
            config.quorum = 2
            config.fraction = 0.5
            let names = ["a", "b", "c", "d"]
            config.secrets = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, [UInt8](repeating: UInt8($0.offset + 1), count: 16)) })
            let coordinator = try Coordinator(config: config, initial: Checkpoint(model: model, metadata: CheckpointMetadata(source: "t")),
                                              strategy: FedAvg())
            let data = LabelledData(inputs: Tensor(shape: [8, 2], data: (0..<16).map { Float($0 % 5) }), labels: (0..<8).map { $0 % 2 })
            let port = coordinator.port
            let done = DispatchGroup()
            for (i, name) in names.enumerated() {
                done.enter()
                Thread {
                    defer { done.leave() }
                    let c = FederatedNode.Config(host: "127.0.0.1", port: port, name: name, secret: [UInt8](repeating: UInt8(i + 1), count: 16),
                                                 tls: nil, train: data, validation: data)
                    _ = try? FederatedNode(config: c).run()
                }.start()
            }
            let records = try coordinator.run()
            XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
            return records.map(\.participants)
        }
        let first = try run(), second = try run()
        XCTAssertEqual(first.count, 4)
        XCTAssertTrue(first.allSatisfy { $0.count == 2 }, "\(first)")
        XCTAssertEqual(first, second, "same seed, same samples")
        XCTAssertGreaterThan(Set(first.flatMap { $0 }).count, 2, "different nodes over the rounds: \(first)")
    }
}

private final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: String] = [:]
    func set(_ k: String, _ v: String) { lock.lock(); values[k] = v; lock.unlock() }
    func get(_ k: String) -> String? { lock.lock(); defer { lock.unlock() }; return values[k] }
}
