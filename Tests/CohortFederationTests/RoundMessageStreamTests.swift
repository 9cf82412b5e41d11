import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport

/// The streamed MODEL message carries exactly the bytes of the one-frame layout (header and a
/// dense float32 delta-codec body), sent from the tensors in chunks smaller than the model.
final class RoundMessageStreamTests: XCTestCase {
    func testAStreamedModelIsTheHeaderAndWeightsPayloadInChunks() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [30], layers: [LayerSpec(.dense, name: "fc", units: 40), LayerSpec(.relu, name: "r"),
                                                                             LayerSpec(.dense, name: "head", units: 3)]), seed: 4)
        let weights = model.stateDict()
        let header = RoundMessages.ModelHeader(round: 3, modelVersion: 2, plan: TrainingPlan(), architecture: model.spec)
        let message = try RoundMessages.modelMessage(.model, header: header, weights: weights, chunkSize: 1000)
        XCTAssertGreaterThan(message.chunkCount, 5)
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let client = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: listener.port, timeout: 5))
        let server = FramedConnection(stream: try XCTUnwrap(try listener.accept(timeout: 5)))
        defer { client.close(); server.close() }
        let sender = Thread { try? client.send(message, version: ProtocolVersion.current) }
        sender.start()
        let start = try server.receive(timeout: 5)
        XCTAssertEqual(start.type, MessageType.model.rawValue)
        let bytes = try server.receiveStreamedBytes(start, budget: 1 << 20, timeout: 5)
        // The JSON header's key order is the encoder's; everything else is byte for byte.
        let (parsed, body) = try RoundMessages.parse(bytes, as: RoundMessages.ModelHeader.self)
        XCTAssertEqual(body, try RoundMessages.weightsBody(weights))
        XCTAssertEqual(bytes.count, try RoundMessages.payload(parsed, body: body).count)
        XCTAssertEqual(parsed.modelDigest, ModelDigest.hex(weights), "a whole model's header carries its digest")
        XCTAssertNil(parsed.baseVersion)
        XCTAssertEqual(parsed.round, 3)
        XCTAssertEqual(parsed.modelVersion, 2)
        XCTAssertEqual(parsed.architecture, model.spec)
        XCTAssertEqual(parsed.plan, TrainingPlan())
        let shapes = Dictionary(uniqueKeysWithValues: weights.map { ($0.name, $0.value.shape) })
        let decoded = try RoundMessages.decodeWeights(body, shapes: shapes)
        for (name, value) in weights { XCTAssertEqual(decoded[name], value, name) }
    }
}
