import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// A node handed a global model that is not finite or is beyond the weight budget says the
/// coordinator's model was bad (a typed error), tells the coordinator with ERROR, and never
/// trains on it (so it cannot blame its own data or learning rate).
final class BadGlobalModelTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])

    private func model(_ weights: [(name: String, value: Tensor)]) throws -> StreamedMessage {
        var header = RoundMessages.ModelHeader(round: 1, modelVersion: 1, plan: TrainingPlan(), architecture: spec)
        header.modelDigest = ModelDigest.hex(weights)
        return try RoundMessages.modelMessage(.model, header: header, weights: weights)
    }

    /// A whole-model MODEL whose dense float32 body carries `weights` as given, non-finite
    /// values included (the encoder refuses them, so the body is laid out here).
    private func rawModel(_ weights: [(name: String, value: Tensor)]) throws -> StreamedMessage {
        var header = RoundMessages.ModelHeader(round: 1, modelVersion: 1, plan: TrainingPlan(), architecture: spec)
        header.modelDigest = String(repeating: "0", count: 64)
        let finite = weights.map { (name: $0.name, value: Tensor(shape: $0.value.shape, data: [Float](repeating: 0, count: $0.value.count))) }
        var body: [UInt8] = []
        var next = 0
        for part in try DeltaEncoder.float32Parts(finite) {
            switch part {
            case .bytes(let b): body += b
            case .floats:
                for x in weights[next].value.data { withUnsafeBytes(of: x.bitPattern.littleEndian) { body += $0 } }
                next += 1
            }
        }
        XCTAssertEqual(next, weights.count)
        return StreamedMessage(type: MessageType.model.rawValue, bytes: try RoundMessages.payload(header, body: body))
    }

    /// Sends `weights` as the MODEL of round 1; returns the node's ERROR message and its error.
    private func send(_ message: StreamedMessage) throws -> (message: String, failure: Error?, log: String) {
        let script = try ScriptedCoordinator()
        defer { script.close() }
        let node = script.startNode { _ in }
        let conn = try script.acceptNode()
        try conn.send(message, version: ProtocolVersion.current)
        let reply = try conn.receive(timeout: 10)
        XCTAssertEqual(reply.type, MessageType.error.rawValue, "ERROR, not an UPDATE")
        let message = try JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(reply.payload)).message
        XCTAssertTrue(node.wait().hasPrefix("failed: "), node.outcome)
        return (message, node.failure, node.log)
    }

    func testANonFiniteModelIsBlamedOnTheCoordinatorAndReported() throws {
        var weights = try Sequential(spec: spec, seed: 1).stateDict()
        XCTAssertEqual(weights[0].name, "head.weight")
        weights[0].value.data[1] = .nan
        let (message, failure, log) = try send(try rawModel(weights))
        XCTAssertTrue(message.contains("the coordinator's global model of round 1 (version 1) is bad: tensor 'head.weight' cannot be decoded"), message)
        XCTAssertTrue(message.contains("is nan") && message.contains("not this site's data or learning rate"), message)
        let bad = try XCTUnwrap(failure as? BadGlobalModel, "typed error, got \(String(describing: failure)) (\(type(of: failure)))")
        guard case .undecodable = bad.fault else { return XCTFail("\(bad.fault)") }
        XCTAssertEqual(bad.tensor, "head.weight")
        XCTAssertTrue(log.contains("reporting it to the coordinator"), log)
    }

    func testAModelBeyondTheWeightBudgetIsBlamedOnTheCoordinator() throws {
        var weights = try Sequential(spec: spec, seed: 1).stateDict()
        XCTAssertEqual(weights[1].name, "head.bias")
        weights[1].value.data[0] = -1e30
        let (message, failure, _) = try send(try model(weights))
        XCTAssertTrue(message.contains("tensor 'head.bias' holds a weight of magnitude 1e+30, beyond the budget"), message)
        let bad = try XCTUnwrap(failure as? BadGlobalModel, "typed error, got \(String(describing: failure)) (\(type(of: failure)))")
        XCTAssertEqual(bad.fault, .outOfBudget(magnitude: 1e30, bound: FederatedNode.maxGlobalMagnitude))
    }

    func testAModelWithinTheBudgetIsTrainedOn() throws {
        var weights = try Sequential(spec: spec, seed: 1).stateDict()
        weights[1].value.data[0] = 0.9 * FederatedNode.maxGlobalMagnitude
        let script = try ScriptedCoordinator()
        defer { script.close() }
        let node = script.startNode { _ in }
        let conn = try script.acceptNode()
        try conn.send(try model(weights), version: ProtocolVersion.current)
        XCTAssertEqual(try conn.receive(timeout: 10).type, MessageType.update.rawValue, node.log)
        try conn.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: []))
        XCTAssertEqual(node.wait(), "rounds 1", node.log)
    }
}
