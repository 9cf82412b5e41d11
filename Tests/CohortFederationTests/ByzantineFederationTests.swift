import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Issue 16, point 3, over the real path: five `FederatedNode`s on loopback, one of them
/// hostile (`Config.testAttack`), against a coordinator whose strategy the plan's factory makes.
final class ByzantineFederationTests: XCTestCase {
    /// Two separable classes: label 1 when x0 > x1.
    private static func data(count: Int, seed: UInt64) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        var inputs: [Float] = [], labels: [Int] = []
        for _ in 0..<count {
            let a = rng.uniform(-1, 1), b = rng.uniform(-1, 1)
            inputs += [a, b]
            labels.append(a > b ? 1 : 0)
        }
        return LabelledData(inputs: Tensor(shape: [count, 2], data: inputs), labels: labels)
    }

    /// Runs `rounds` rounds with node "h" running `attack`; returns the final global model's
    /// accuracy on held-out data and the round records.
    private func federate(plan: TrainingPlan, attack: ByzantineAttack?, rounds: Int = 6) throws -> (accuracy: Float, records: [Coordinator.RoundRecord]) {
        let names = ["a", "b", "c", "d", "h"]
        let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let model = try Sequential(spec: spec, seed: 3)
        var outDir = ""
        let (template, cleanup) = try TinyFederation.coordinator(nodes: names, spec: spec) { config in
            config.rounds = rounds
            config.minNodes = names.count
            // A round goes on when screening leaves the hostile update out.
            config.quorum = names.count - 1
            config.roundTimeout = 30
            config.finalEvaluation = false
            config.plan = plan
            outDir = config.outDir
        }
        defer { cleanup() }
        let coordinator = try Coordinator(config: template.config, initial: Checkpoint(model: model, metadata: CheckpointMetadata(source: "test")),
                                          strategy: try StrategyFactory.make(plan, model: model))
        let port = coordinator.port
        let results = ResultsBox()
        let done = DispatchGroup()
        for (i, name) in names.enumerated() {
            done.enter()
            Thread {
                defer { done.leave() }
                var config = TinyFederation.node(name, secret: TinyFederation.secret(i), port: port)
                config.train = Self.data(count: 40, seed: UInt64(10 + i))
                config.validation = Self.data(count: 10, seed: UInt64(20 + i))
                if name == "h", let attack { config.testAttack = attack }
                do { results.set(name, "rounds \(try FederatedNode(config: config).run())") } catch { results.set(name, "\(error)") }
            }.start()
        }
        let records = try coordinator.run()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        for name in names { XCTAssertEqual(results.get(name), "rounds \(rounds)", name) }
        let final = try CheckpointFile.load((outDir as NSString).appendingPathComponent("global.ckpt")).makeModel()
        return (Inference.accuracy(final, Self.data(count: 400, seed: 99)), records)
    }

    private func plan(strategy: String, screening: UpdateScreeningPlan?) -> TrainingPlan {
        var plan = TrainingPlan()
        plan.strategy = strategy
        plan.learningRate = 0.5
        plan.batchSize = 8
        plan.screening = screening
        return plan
    }

    func testMedianResistsASignflipThatRuinsUnboundedFedAvg() throws {
        let unbounded = try federate(plan: plan(strategy: "fedavg", screening: UpdateScreeningPlan()), attack: .signflip)
        let median = try federate(plan: plan(strategy: "median", screening: UpdateScreeningPlan()), attack: .signflip)
        let clean = try federate(plan: plan(strategy: "fedavg", screening: UpdateScreeningPlan()), attack: nil)
        // FedAvg is pushed against the honest direction (net −1.2× the mean update): near chance
        // on a balanced set, where the clean run and the median separate the classes.
        XCTAssertGreaterThan(clean.accuracy, 0.9)
        XCTAssertLessThan(unbounded.accuracy, 0.7)
        XCTAssertGreaterThan(median.accuracy, 0.9)
        XCTAssertTrue(unbounded.records.allSatisfy { $0.accepted.contains("h") })
    }

    func testTheStandardScreeningRejectsTheSignflippedUpdateEveryRound() throws {
        let defaulted = try federate(plan: plan(strategy: "fedavg", screening: .standard), attack: .signflip)
        XCTAssertGreaterThan(defaulted.accuracy, 0.9)
        for record in defaulted.records {
            XCTAssertFalse(record.accepted.contains("h"), "round \(record.round)")
            XCTAssertTrue(record.rejected["h"]?.hasPrefix("screening: rejected: update norm") ?? false, "\(record.rejected)")
        }
    }

    func testTheStandardScreeningCapsAnInflatedSampleCount() throws {
        let defaulted = try federate(plan: plan(strategy: "fedavg", screening: .standard), attack: .sampleInflation, rounds: 2)
        for record in defaulted.records {
            XCTAssertTrue(record.accepted.contains("h"))
            // Announced counts 40 × 4 and 10⁹: the median is 40, the cap 80.
            XCTAssertEqual(record.screening?["h"], "sample weight capped from 1000000000 to 80")
        }
    }
}
