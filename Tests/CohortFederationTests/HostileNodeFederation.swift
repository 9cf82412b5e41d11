import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// A small federation over real sockets in which node "h" may misbehave (`Config.testAttack`):
/// the shared set-up of the Byzantine and expected-sample tests.
enum HostileNodeFederation {
    /// Two separable classes: label 1 when x0 > x1.
    static func data(count: Int, seed: UInt64) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        var inputs: [Float] = [], labels: [Int] = []
        for _ in 0..<count {
            let a = rng.uniform(-1, 1), b = rng.uniform(-1, 1)
            inputs += [a, b]
            labels.append(a > b ? 1 : 0)
        }
        return LabelledData(inputs: Tensor(shape: [count, 2], data: inputs), labels: labels)
    }

    /// Runs `rounds` rounds of `names` (one of them "h", running `attack`) with a one-layer
    /// model, the round going on when one update is left out (quorum = nodes − 1, unless
    /// `quorum` says otherwise); checks that every node, "h" included, keeps its session to the
    /// end. With `crafted`, "h" is instead a `CraftedNode` sending 40 samples and a delta whose
    /// every element is that value. Returns the final global checkpoint and the round records.
    static func run(names: [String], plan: TrainingPlan, attack: ByzantineAttack?, crafted: Float? = nil, quorum: Int? = nil,
                    expectedSamples: [String: Int] = [:],
                    rounds: Int, file: StaticString = #filePath, line: UInt = #line) throws -> (final: Checkpoint, records: [Coordinator.RoundRecord]) {
        let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let model = try Sequential(spec: spec, seed: 3)
        var outDir = ""
        let (template, cleanup) = try TinyFederation.coordinator(nodes: names, spec: spec) { config in
            config.rounds = rounds
            config.minNodes = names.count
            config.quorum = quorum ?? names.count - 1
            config.roundTimeout = 30
            config.finalEvaluation = false
            config.plan = plan
            config.expectedSamples = expectedSamples
            outDir = config.outDir
        }
        defer { cleanup() }
        let coordinator = try Coordinator(config: template.config, initial: Checkpoint(model: model, metadata: CheckpointMetadata(source: "test")),
                                          strategy: try StrategyFactory.make(plan, model: model))
        let port = coordinator.port
        let results = ResultsBox()
        let done = DispatchGroup()
        let craftedNode = crafted.flatMap { value in
            names.firstIndex(of: "h").map { i in
                CraftedNode.start(port: port, name: "h", secret: TinyFederation.secret(i), samples: 40,
                                  delta: [("head.weight", [2, 2], value), ("head.bias", [2], value)])
            }
        }
        for (i, name) in names.enumerated() where !(crafted != nil && name == "h") {
            done.enter()
            Thread {
                defer { done.leave() }
                var config = TinyFederation.node(name, secret: TinyFederation.secret(i), port: port)
                config.train = data(count: 40, seed: UInt64(10 + i))
                config.validation = data(count: 10, seed: UInt64(20 + i))
                if name == "h", let attack { config.testAttack = attack }
                do { results.set(name, "rounds \(try FederatedNode(config: config).run())") } catch { results.set(name, "\(error)") }
            }.start()
        }
        let records = try coordinator.run()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success, file: file, line: line)
        if let craftedNode { XCTAssertEqual(craftedNode.wait(timeout: .now() + 30), .success, file: file, line: line) }
        for name in names where !(crafted != nil && name == "h") { XCTAssertEqual(results.get(name), "rounds \(rounds)", name, file: file, line: line) }
        return (try CheckpointFile.load((outDir as NSString).appendingPathComponent("global.ckpt")), records)
    }
}
