import XCTest
import CohortCheckpoint
import CohortNN
import CohortTensor
import CohortTransport
@testable import CohortFederation

/// Issue 19: a node builds its model without the random initialisation the MODEL overwrites.
/// Its round is bit for bit the round of a node that draws it, and a MODEL that leaves a tensor
/// out is still refused with a typed error (the skipped values are never used).
final class NodeInitializationSkipTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [2], layers: [
        LayerSpec(.dense, name: "fc", units: 8), LayerSpec(.batchnorm1d, name: "bn"), LayerSpec(.relu, name: "r"),
        LayerSpec(.dense, name: "head", units: 2),
    ])

    private func modelPayload(leavingOut: String? = nil) throws -> [UInt8] {
        let w = try Sequential(spec: spec, seed: 1).stateDict()
        var plan = TrainingPlan()
        plan.learningRate = 0.1
        plan.momentum = 0.9
        plan.batchSize = 4
        plan.localEpochs = 2
        var h = RoundMessages.ModelHeader(round: 1, modelVersion: 1, plan: plan, architecture: spec)
        h.modelDigest = ModelDigest.hex(w)
        return try RoundMessages.payload(h, body: try RoundMessages.weightsBody(w.filter { $0.name != leavingOut }))
    }

    /// The UPDATE payload a node sends for the MODEL (the node then gets BYE).
    private func update(skipping: Bool, saveTrainedTo: String? = nil, lines: ((NodeRun) -> Void)? = nil) throws -> [UInt8] {
        let script = try ScriptedCoordinator()
        defer { script.close() }
        let node = script.startNode { $0.skipsInitialization = skipping; $0.saveTrainedTo = saveTrainedTo }
        defer { lines?(node) }
        let conn = try script.acceptNode()
        try conn.send(StreamedMessage(type: MessageType.model.rawValue, bytes: try modelPayload(), chunkSize: 100), version: ProtocolVersion.current)
        var frame = try conn.receive(timeout: 20)
        while frame.type == MessageType.heartbeat.rawValue { frame = try conn.receive(timeout: 20) }
        let bytes = try conn.receiveStreamedBytes(frame, budget: 1 << 20, timeout: 20)
        try conn.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: []))
        XCTAssertEqual(node.wait(), "rounds 1")
        return bytes
    }

    func testARoundIsBitIdenticalWithAndWithoutTheInitialisation() throws {
        let skipped = try update(skipping: true)
        let drawn = try update(skipping: false)
        // The JSON header's key order is a dictionary's (it varies); its values and the body's bytes do not.
        let (header, body) = try RoundMessages.parse(skipped, as: RoundMessages.UpdateHeader.self)
        let (other, otherBody) = try RoundMessages.parse(drawn, as: RoundMessages.UpdateHeader.self)
        XCTAssertEqual(body, otherBody, "the delta of every trained tensor is the same bytes")
        XCTAssertEqual(header.metrics, other.metrics)
        XCTAssertNotNil(header.metrics["train_loss"])
        XCTAssertEqual(header.samples, 8)
        let delta = try DeltaDecoder(expectedShapes: Dictionary(uniqueKeysWithValues: try Sequential(spec: spec, seed: 1).stateDict()
            .map { ($0.name, $0.value.shape) }), maxBytes: 1 << 20, requireAllTensors: false).decode(body)
        XCTAssertTrue(delta["fc.weight"]?.data.contains { $0 != 0 } ?? false, "the node trained")
    }

    func testAModelMissingATensorIsRefusedWithATypedError() throws {
        let script = try ScriptedCoordinator()
        defer { script.close() }
        let node = script.startNode { _ in }
        let conn = try script.acceptNode()
        try conn.send(StreamedMessage(type: MessageType.model.rawValue, bytes: try modelPayload(leavingOut: "head.bias"), chunkSize: 100),
                      version: ProtocolVersion.current)
        let reply = try conn.receive(timeout: 20)
        XCTAssertEqual(reply.type, MessageType.error.rawValue, "ERROR, not an UPDATE")
        let message = try JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(reply.payload)).message
        XCTAssertTrue(message.contains("head.bias") && message.contains("missing"), message)
        XCTAssertTrue(node.wait().hasPrefix("failed: "), node.outcome)
        let bad = try XCTUnwrap(node.failure as? BadGlobalModel, "typed error, got \(String(describing: node.failure))")
        guard case .undecodable(let error) = bad.fault else { return XCTFail("\(bad.fault)") }
        XCTAssertEqual(error.tensor, "head.bias")
    }

    /// `--save-trained`: the file holds exactly the tensors sent, and each minus the global is the
    /// UPDATE's delta bit for bit (what bench large-model's reference check relies on); the round's
    /// stage timings are logged as one parseable line.
    func testSavedTrainedTensorsAreTheUpdatesDeltaOverTheGlobalAndStagesAreLogged() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trained-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var logged: [String] = []
        let bytes = try update(skipping: true, saveTrainedTo: path) { logged = $0.log.split(separator: "\n").map(String.init) }
        let (_, body) = try RoundMessages.parse(bytes, as: RoundMessages.UpdateHeader.self)
        let global = try Sequential(spec: spec, seed: 1).stateDict()
        let delta = try DeltaDecoder(expectedShapes: Dictionary(uniqueKeysWithValues: global.map { ($0.name, $0.value.shape) }),
                                     maxBytes: 1 << 20, requireAllTensors: false).decode(body)
        let saved = try Safetensors.load(path).tensors
        XCTAssertEqual(Set(saved.map(\.name)), Set(delta.names))
        for (name, local) in saved {
            let g = try XCTUnwrap(global.first { $0.name == name }?.value)
            XCTAssertEqual(zip(local.data, g.data).map { ($0 - $1).bitPattern }, delta[name]?.data.map(\.bitPattern), name)
        }
        let timings = try XCTUnwrap(logged.lazy.compactMap { NodeStageTimings.parse(logLine: $0) }.first, "\(logged)")
        XCTAssertEqual(timings.round, 1)
        let names = timings.stages.map(\.name)
        XCTAssertTrue(names.contains("batch 4: forward and backward"), "8 rows, batch 4, 2 epochs: 4 steps; \(names)")
        XCTAssertFalse(names.contains("batch 5: forward and backward"))
        XCTAssertEqual(names.last, "UPDATE send (the delta streamed from the trained and received weights)")
        XCTAssertTrue(timings.stages.allSatisfy { $0.seconds >= 0 })
        XCTAssertNil(NodeStageTimings.parse(logLine: "a: round 1: global val acc 0.5"))
    }
}
