import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// A node sent a MODEL delta it cannot apply (it holds no copy, or the rebuilt model does not
/// match the digest) answers ERROR and reconnects instead of training, driven by a scripted
/// coordinator on loopback.
final class NodeDownlinkRecoveryTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])

    /// A MODEL of `version`: the whole of `weights`, or from `base` only the tensors named in
    /// `only`, with the digest of `digestOf` (default: `weights`).
    private func model(_ weights: [(name: String, value: Tensor)], version: Int, base: Int? = nil, only: Set<String> = [],
                       digestOf: [(name: String, value: Tensor)]? = nil) throws -> StreamedMessage {
        var header = RoundMessages.ModelHeader(round: version, modelVersion: version, plan: TrainingPlan(), architecture: spec)
        header.baseVersion = base
        header.modelDigest = ModelDigest.hex(digestOf ?? weights)
        return try RoundMessages.modelMessage(.model, header: header, weights: base == nil ? weights : weights.filter { only.contains($0.name) })
    }

    private func errorMessage(_ conn: FramedConnection) throws -> String {
        let reply = try conn.receive(timeout: 10)
        XCTAssertEqual(reply.type, MessageType.error.rawValue, "ERROR, not an UPDATE")
        return try JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(reply.payload)).message
    }

    private func updateVersion(_ conn: FramedConnection) throws -> Int {
        let start = try conn.receive(timeout: 10)
        XCTAssertEqual(start.type, MessageType.update.rawValue)
        let bytes = try conn.receiveStreamedBytes(start, budget: 1 << 20, timeout: 10)
        return try RoundMessages.parse(bytes, as: RoundMessages.UpdateHeader.self).header.modelVersion
    }

    func testADeltaTheNodeCannotApplyGetsAnErrorAndAReconnectionNotAnUpdate() throws {
        let v1 = try Sequential(spec: spec, seed: 1).stateDict()
        var v2 = v1
        v2[1].value.data[0] += 0.5   // head.bias
        XCTAssertEqual(v2[1].name, "head.bias")
        let script = try ScriptedCoordinator()
        defer { script.close() }
        let node = script.startNode { _ in }
        // No copy yet: a delta cannot be applied.
        let first = try script.acceptNode()
        try first.send(try model(v1, version: 1, base: 0, only: ["head.bias"]), version: ProtocolVersion.current)
        let noCopy = try errorMessage(first)
        XCTAssertTrue(noCopy.contains("delta from version 0 to 1, but this node holds no global model; reconnecting for the whole model"), noCopy)
        // The new session gets the whole model, then a delta it can apply.
        let second = try script.acceptNode()
        try second.send(try model(v1, version: 1), version: ProtocolVersion.current)
        XCTAssertEqual(try updateVersion(second), 1)
        try second.send(try model(v2, version: 2, base: 1, only: ["head.bias"]), version: ProtocolVersion.current)
        XCTAssertEqual(try updateVersion(second), 2)
        // A delta whose result does not match the digest (here: head.weight changed too, but was not sent).
        var v3 = v2
        v3[0].value.data[0] += 1
        try second.send(try model(v3, version: 3, base: 2, only: ["head.bias"]), version: ProtocolVersion.current)
        let mismatch = try errorMessage(second)
        XCTAssertTrue(mismatch.contains("the global model of version 3 rebuilt from the MODEL (a delta from version 2) has digest"), mismatch)
        let third = try script.acceptNode()
        try third.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: []))
        XCTAssertEqual(node.wait(), "rounds 2", node.log)
        XCTAssertTrue(node.log.contains("reconnecting"), node.log)
    }
}
