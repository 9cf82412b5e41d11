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
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["a", "b"]) { config in
            config.rounds = 2
            config.minNodes = 2
            config.heartbeatInterval = 0.2
        }
        defer { cleanup() }
        let port = coordinator.port
        let results = ResultsBox()
        let done = DispatchGroup()
        for (index, (name, delay)) in [("a", 0.0), ("b", 2.5)].enumerated() {
            done.enter()
            Thread {
                defer { done.leave() }
                Thread.sleep(forTimeInterval: delay)
                var c = TinyFederation.node(name, secret: TinyFederation.secret(index), port: port)
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
            let names = ["a", "b", "c", "d"]
            let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: names) { config in
                config.rounds = 4
                config.minNodes = 4
                config.quorum = 2
                config.fraction = 0.5
            }
            defer { cleanup() }
            let port = coordinator.port
            let done = DispatchGroup()
            for (i, name) in names.enumerated() {
                done.enter()
                Thread {
                    defer { done.leave() }
                    _ = try? FederatedNode(config: TinyFederation.node(name, secret: TinyFederation.secret(i), port: port)).run()
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
