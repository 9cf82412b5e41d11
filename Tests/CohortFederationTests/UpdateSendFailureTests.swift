import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// A node whose streamed UPDATE cannot be made (here a delta that overflowed to infinity,
/// found only as the chunk holding it is made) tells the coordinator why and stops; the
/// coordinator records the reason instead of a bare dropped connection.
final class UpdateSendFailureTests: XCTestCase {
    func testANonFiniteDeltaFoundWhileSendingIsReportedToTheCoordinator() throws {
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["a"]) { config in
            config.rounds = 1
            config.minNodes = 1
            config.roundTimeout = 10
            config.waitForNodes = 3
            config.plan.learningRate = 1e10   // with inputs of 1e30 the first step overflows
        }
        defer { cleanup() }
        let huge = LabelledData(inputs: Tensor(shape: [8, 2], data: [Float](repeating: 1e30, count: 16)), labels: (0..<8).map { $0 % 2 })
        let outcome = ResultsBox()
        let done = DispatchSemaphore(value: 0)
        let port = coordinator.port
        Thread {
            var config = TinyFederation.node("a", secret: TinyFederation.secret(0), port: port)
            config.train = huge
            config.validation = huge
            do { try FederatedNode(config: config).run(); outcome.set("node", "served") } catch {
                outcome.set("node", (error is ModelDeltaError ? "ModelDeltaError: " : "other: ") + "\(error)")
            }
            done.signal()
        }.start()
        let log = LogBox()
        XCTAssertThrowsError(try coordinator.run { log.append($0) })   // its only node left: the round cannot complete
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        let node = outcome.get("node") ?? "none"
        XCTAssertTrue(node.hasPrefix("ModelDeltaError: ") && node.contains("(values must be finite)"), node)
        XCTAssertTrue(log.text.contains("node 'a' cannot send its update of round 1: tensor 'head."), log.text)
    }
}
