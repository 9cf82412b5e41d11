import XCTest
import CohortCheckpoint
import CohortNN
import CohortTensor
import CohortTransport
@testable import CohortFederation

/// Issue 19's downlink and node side: a MODEL decoded chunk by chunk straight into the tensors'
/// storage gives the old decoder's tensors bit for bit; a truncated or corrupted MODEL is a
/// typed error the node reports; a streamed UPDATE is the encoder's bytes; the block-CRC digest
/// sees every bit, name and shape.
final class StreamedDownlinkTests: XCTestCase {
    /// Weights with awkward values: -0, subnormals, the largest float, and a tensor of many
    /// pieces (so records are handed out piecewise).
    private func weights() -> [(name: String, value: Tensor)] {
        var rng = SeededRandom(seed: 19)
        var big = (0..<5003).map { _ in rng.normal() }
        big[0] = -0.0
        big[1] = .leastNonzeroMagnitude
        big[2] = -.greatestFiniteMagnitude
        big[5002] = -.leastNormalMagnitude
        return [("wide.weight", Tensor(shape: [5003], data: big)), ("wide.bias", Tensor(shape: [3], data: [-0.0, 1, 2])),
                ("head.weight", Tensor(shape: [2, 3], data: (0..<6).map { Float($0) - 2.5 }))]
    }

    private func shapes(_ w: [(name: String, value: Tensor)]) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: w.map { ($0.name, $0.value.shape) })
    }

    private func header(_ w: [(name: String, value: Tensor)]) -> RoundMessages.ModelHeader {
        var h = RoundMessages.ModelHeader(round: 1, modelVersion: 1, plan: TrainingPlan(), architecture: ModelSpec(inputShape: [1], layers: []))
        h.modelDigest = ModelDigest.hex(w)
        return h
    }

    /// Feeds `body` to a node's copy in `feed`-byte slices with `pieceBytes` pieces.
    private func receive(_ body: [UInt8], header: RoundMessages.ModelHeader, shapes: [String: [Int]], feed: Int, pieceBytes: Int,
                         into node: inout ReceivedGlobal) throws -> [String: Tensor] {
        let assembly = try node.begin(header, shapes: shapes)
        let decoder = ReceivedGlobal.decoder(header, shapes: shapes, bodyLength: body.count, pieceBytes: pieceBytes)
        try body.withUnsafeBytes { b in
            var at = 0
            while at < b.count {
                let n = min(feed, b.count - at)
                try decoder.feed(UnsafeRawBufferPointer(rebasing: b[at..<(at + n)]), piecewise: true,
                                 pieces: { try assembly.take($0) }) { try assembly.take($0) }
                at += n
            }
        }
        try decoder.finish()
        return try node.finish(header, assembly)
    }

    func testAModelDecodedInPiecesIntoTheTensorsIsTheOldDecodersBitForBit() throws {
        let w = weights()
        let body = try RoundMessages.weightsBody(w)
        let old = try RoundMessages.decodeWeights(body, shapes: shapes(w))
        for (feed, piece) in [(777, 64), (1, 4), (body.count, 1 << 20), (4096, 1000)] {
            var node = ReceivedGlobal()
            let streamed = try receive(body, header: header(w), shapes: shapes(w), feed: feed, pieceBytes: piece, into: &node)
            XCTAssertEqual(Set(streamed.keys), Set(old.keys))
            for (name, t) in old {
                XCTAssertEqual(streamed[name]?.shape, t.shape, name)
                XCTAssertEqual(streamed[name]?.data.map(\.bitPattern), t.data.map(\.bitPattern), "\(name), feed \(feed), pieces \(piece)")
            }
            XCTAssertEqual(node.version, 1)
        }
    }

    /// Decoded into the node's model: the model's tensors become the received ones in place
    /// (no second copy), and a tensor whose storage something else shares is copied, not changed.
    func testAModelDecodedIntoTheModelsStorageLeavesSharedTensorsAlone() throws {
        let spec = ModelSpec(inputShape: [50], layers: [LayerSpec(.dense, name: "fc", units: 40), LayerSpec(.relu, name: "r"),
                                                        LayerSpec(.dense, name: "head", units: 3)])
        let model = try Sequential(spec: spec, seed: 1)
        let w = try Sequential(spec: spec, seed: 2).stateDict()
        let kept = model.parameters[0].value   // shares fc.weight's storage, as a site's own tensor would
        let headStorage = try XCTUnwrap(model.parameters.first { $0.name == "head.weight" }).value.data.withUnsafeBufferPointer { $0.baseAddress }
        let before = kept.data
        var h = RoundMessages.ModelHeader(round: 1, modelVersion: 1, plan: TrainingPlan(), architecture: spec)
        h.modelDigest = ModelDigest.hex(w)
        let body = try RoundMessages.weightsBody(w)
        var node = ReceivedGlobal()
        let assembly = try node.begin(h, shapes: shapes(w), slots: ModelAssembly.modelSlots(model))
        let decoder = ReceivedGlobal.decoder(h, shapes: shapes(w), bodyLength: body.count, pieceBytes: 256)
        try body.withUnsafeBytes { b in
            var at = 0
            while at < b.count {
                let n = min(500, b.count - at)
                try decoder.feed(UnsafeRawBufferPointer(rebasing: b[at..<(at + n)]), piecewise: true,
                                 pieces: { try assembly.take($0) }) { try assembly.take($0) }
                at += n
            }
        }
        try decoder.finish()
        let got = try node.finish(h, assembly)
        XCTAssertEqual(kept.data, before, "a shared tensor is not written")
        for (name, t) in w { XCTAssertEqual(got[name]?.data.map(\.bitPattern), t.data.map(\.bitPattern), name) }
        // The records handed out in pieces (the weights) went into the model's own storage: the
        // received global is the model's tensor, already holding the new values before any load.
        for name in ["fc.weight", "head.weight"] {
            let p = try XCTUnwrap(model.parameters.first { $0.name == name })
            XCTAssertEqual(p.value.data.map(\.bitPattern), got[name]?.data.map(\.bitPattern), name)
            let same = p.value.data.withUnsafeBufferPointer { a in got[name]!.data.withUnsafeBufferPointer { $0.baseAddress == a.baseAddress } }
            XCTAssertTrue(same, "\(name) shares the model's storage")
        }
        // head.weight was the model's alone: written where it lay, never copied (not even once per piece).
        XCTAssertEqual(got["head.weight"]!.data.withUnsafeBufferPointer { $0.baseAddress }, headStorage)
        try model.load(got)
        for (name, t) in w {
            XCTAssertEqual(model.stateDict().first { $0.name == name }?.value.data.map(\.bitPattern), t.data.map(\.bitPattern), name)
        }
    }

    func testACorruptedModelFailsTheDigestAndATruncatedOneIsATypedDecodeError() throws {
        let w = weights()
        var body = try RoundMessages.weightsBody(w)
        // A bit of the big tensor's values flipped after the sender's digest (far from a header).
        body[body.count / 2] ^= 0x10
        var node = ReceivedGlobal()
        XCTAssertThrowsError(try receive(body, header: header(w), shapes: shapes(w), feed: 1000, pieceBytes: 256, into: &node)) { error in
            XCTAssertTrue(error is ReceivedGlobal.Mismatch, "\(error)")
            XCTAssertTrue("\(error)".contains("has digest"), "\(error)")
        }
        XCTAssertNil(node.version)
        let cut = Array(try RoundMessages.weightsBody(w).dropLast(10))
        XCTAssertThrowsError(try receive(cut, header: header(w), shapes: shapes(w), feed: 1000, pieceBytes: 256, into: &node)) { error in
            XCTAssertTrue(error is DeltaDecodeError, "\(type(of: error)): \(error)")
        }
        XCTAssertNil(node.version)
    }

    /// A node handed a MODEL whose body is cut short (the frames whole, the delta body not)
    /// reports a typed `BadGlobalModel` to the coordinator with ERROR and stops.
    func testANodeReportsATruncatedModelBody() throws {
        let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])
        let w = try Sequential(spec: spec, seed: 1).stateDict()
        var h = RoundMessages.ModelHeader(round: 1, modelVersion: 1, plan: TrainingPlan(), architecture: spec)
        h.modelDigest = ModelDigest.hex(w)
        let payload = Array(try RoundMessages.payload(h, body: try RoundMessages.weightsBody(w)).dropLast(3))
        let script = try ScriptedCoordinator()
        defer { script.close() }
        let node = script.startNode { _ in }
        let conn = try script.acceptNode()
        try conn.send(StreamedMessage(type: MessageType.model.rawValue, bytes: payload, chunkSize: 7), version: ProtocolVersion.current)
        let reply = try conn.receive(timeout: 10)
        XCTAssertEqual(reply.type, MessageType.error.rawValue, "ERROR, not an UPDATE")
        let message = try JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(reply.payload)).message
        XCTAssertTrue(message.contains("cannot be decoded") && message.contains("truncated"), message)
        XCTAssertTrue(node.wait().hasPrefix("failed: "), node.outcome)
        let bad = try XCTUnwrap(node.failure as? BadGlobalModel, "typed error, got \(String(describing: node.failure))")
        guard case .undecodable = bad.fault else { return XCTFail("\(bad.fault)") }
    }

    func testAStreamedUpdateIsTheEncodersBytesInAnyChunking() throws {
        let global = weights()
        var rng = SeededRandom(seed: 7)
        let local = global.map { (name: $0.name, value: Tensor(shape: $0.value.shape, data: $0.value.data.map { $0 + 0.01 * rng.normal() })) }
        let names = ["wide.weight", "head.weight"]   // wide.bias not sent (e.g. kept local)
        let header = RoundMessages.UpdateHeader(round: 2, modelVersion: 1, samples: 9, metrics: ["train_loss": 0.5])
        let encoded = try DeltaEncoder(config: DeltaCodecConfig()).encode(
            try ModelDelta(local: local, global: global, trainable: Set(names)))
        var expectedHeader = header
        expectedHeader.metrics["update_bytes"] = Double(encoded.count)
        for chunk in [1001, 64, 1 << 20] {
            let message = try RoundMessages.updateMessage(header, local: Dictionary(uniqueKeysWithValues: local.map { ($0.name, $0.value) }),
                                                          global: Dictionary(uniqueKeysWithValues: global.map { ($0.name, $0.value) }),
                                                          names: names, chunkSize: chunk)
            let bytes = try roundTrip(message)
            let (parsed, body) = try RoundMessages.parse(bytes, as: RoundMessages.UpdateHeader.self)
            XCTAssertEqual(body, encoded, "chunk \(chunk)")
            XCTAssertEqual(parsed.metrics, expectedHeader.metrics)
            XCTAssertEqual(parsed.samples, 9)
        }
    }

    func testAStreamedUpdateRefusesANonFiniteDelta() throws {
        let global = weights()
        var local = global
        local[0].value.data[4000] = .infinity
        let message = try RoundMessages.updateMessage(
            RoundMessages.UpdateHeader(round: 1, modelVersion: 1, samples: 1, metrics: [:]),
            local: Dictionary(uniqueKeysWithValues: local.map { ($0.name, $0.value) }),
            global: Dictionary(uniqueKeysWithValues: global.map { ($0.name, $0.value) }), names: ["wide.weight"], chunkSize: 1000)
        // The delta is made as it is sent: the send stops before the chunk holding element 4000.
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let client = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: listener.port, timeout: 5))
        let server = FramedConnection(stream: try XCTUnwrap(try listener.accept(timeout: 5)))
        defer { client.close(); server.close() }
        let drained = DispatchSemaphore(value: 0)
        let received = LockedCount()
        Thread {
            defer { drained.signal() }
            guard let start = try? server.receive(timeout: 5) else { return }
            _ = try? server.receiveStreamed(start, budget: 1 << 24, timeout: 5) { received.add($0.count) }
        }.start()
        XCTAssertThrowsError(try client.send(message, version: ProtocolVersion.current)) { error in
            XCTAssertTrue(error is ModelDeltaError, "\(error)")
            XCTAssertTrue("\(error)".contains("tensor 'wide.weight': delta is inf at element 4000"), "\(error)")
        }
        client.close()
        XCTAssertEqual(drained.wait(timeout: .now() + 10), .success)
        XCTAssertLessThan(received.value, message.length)
        XCTAssertGreaterThan(received.value, 0)
    }

    func testTheBlockDigestCoversEveryBitNameAndShapeButNotTheListOrder() {
        // 300,000 floats: two 1 MiB blocks and a short one.
        var rng = SeededRandom(seed: 3)
        let w: [(name: String, value: Tensor)] = [("a", Tensor(shape: [300_000], data: (0..<300_000).map { _ in rng.normal() })),
                                                  ("b", Tensor(shape: [2, 2], data: [4, 5, 6, 7]))]
        let d = ModelDigest.hex(w)
        XCTAssertEqual(d.count, 64)
        XCTAssertNotEqual(d, ModelDigest.sha256Hex(w), "protocol 4's digest is not protocol 3's")
        XCTAssertEqual(ModelDigest.hex(Array(w.reversed())), d)
        for i in [0, 262_143, 262_144, 299_999] {
            var flipped = w
            flipped[0].value.data[i] = Float(bitPattern: flipped[0].value.data[i].bitPattern ^ 0x8000_0000)
            XCTAssertNotEqual(ModelDigest.hex(flipped), d, "element \(i)")
        }
        var renamed = w
        renamed[1].name = "c"
        XCTAssertNotEqual(ModelDigest.hex(renamed), d)
        var reshaped = w
        reshaped[1].value = Tensor(shape: [4], data: [4, 5, 6, 7])
        XCTAssertNotEqual(ModelDigest.hex(reshaped), d)
    }

    /// The bytes of `message` as a receiver gets them over TCP.
    private func roundTrip(_ message: StreamedMessage) throws -> [UInt8] {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let client = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: listener.port, timeout: 5))
        let server = FramedConnection(stream: try XCTUnwrap(try listener.accept(timeout: 5)))
        defer { client.close(); server.close() }
        let sender = Thread { try? client.send(message, version: ProtocolVersion.current) }
        sender.start()
        let start = try server.receive(timeout: 5)
        XCTAssertEqual(start.type, MessageType.update.rawValue)
        return try server.receiveStreamedBytes(start, budget: 1 << 24, timeout: 5)
    }
}

/// A byte count added to from a receiving thread.
private final class LockedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.withLock { count += n } }
    var value: Int { lock.withLock { count } }
}
