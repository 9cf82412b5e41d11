import XCTest
import CohortCheckpoint
import CohortNN
import CohortTensor
import CohortTransport
@testable import CohortFederation

/// Issue 19: a node may keep the received global values of the tensors it trains in a
/// temporary file while it trains (`GlobalSpill`). Its UPDATEs are the same bytes as a node
/// that holds them in memory, a later MODEL that is a delta still applies over the copy in the
/// file, and a file that cannot be made is a typed error naming the directory.
final class GlobalSpillTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [2], layers: [
        LayerSpec(.dense, name: "fc", units: 8), LayerSpec(.batchnorm1d, name: "bn"), LayerSpec(.relu, name: "r"),
        LayerSpec(.dense, name: "head", units: 2),
    ])
    private let spillMark = "received global written to its temporary file"

    private func message(_ weights: [(name: String, value: Tensor)], version: Int, base: Int?, proximalMu: Float, strategy: String) throws -> StreamedMessage {
        var plan = TrainingPlan()
        plan.learningRate = 0.1
        plan.momentum = 0.9
        plan.batchSize = 4
        plan.localEpochs = 2
        plan.proximalMu = proximalMu
        plan.strategy = strategy
        var header = RoundMessages.ModelHeader(round: version, modelVersion: version, plan: plan, architecture: spec)
        header.baseVersion = base
        header.modelDigest = ModelDigest.hex(weights)
        return try RoundMessages.modelMessage(.model, header: header, weights: base == nil ? weights : weights.filter { $0.name == "head.weight" })
    }

    /// The UPDATE bodies of two rounds (a whole MODEL, then a delta changing only `head.weight`)
    /// and the stage names each round logged.
    private func rounds(spillAbove: Int?, proximalMu: Float = 0, strategy: String = "fedavg", directory: String = NSTemporaryDirectory()) throws
        -> (bodies: [[UInt8]], stages: [[String]], log: String)
    {
        let v1 = try Sequential(spec: spec, seed: 1).stateDict()
        var v2 = v1
        let i = try XCTUnwrap(v2.firstIndex { $0.name == "head.weight" })
        v2[i].value = Tensor(shape: v2[i].value.shape, data: v2[i].value.data.map { $0 * 0.5 + 0.01 })
        let script = try ScriptedCoordinator()
        defer { script.close() }
        let node = script.startNode { $0.spillGlobalAbove = spillAbove; $0.spillDirectory = directory }
        let conn = try script.acceptNode()
        var bodies: [[UInt8]] = []
        for (version, weights) in [(1, v1), (2, v2)] {
            try conn.send(try message(weights, version: version, base: version == 1 ? nil : 1, proximalMu: proximalMu, strategy: strategy),
                          version: ProtocolVersion.current)
            var frame = try conn.receive(timeout: 20)
            while frame.type == MessageType.heartbeat.rawValue { frame = try conn.receive(timeout: 20) }
            XCTAssertEqual(frame.type, MessageType.update.rawValue, "an UPDATE for version \(version), not an ERROR")
            let bytes = try conn.receiveStreamedBytes(frame, budget: 1 << 20, timeout: 20)
            let (header, body) = try RoundMessages.parse(bytes, as: RoundMessages.UpdateHeader.self)
            XCTAssertEqual(header.modelVersion, version)
            bodies.append(body)
        }
        try conn.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: []))
        XCTAssertEqual(node.wait(), "rounds 2")
        let stages = node.log.split(separator: "\n").compactMap { NodeStageTimings.parse(logLine: String($0))?.stages.map(\.name) }
        XCTAssertEqual(stages.count, 2, node.log)
        return (bodies, stages, node.log)
    }

    func testASpilledRoundSendsTheSameUpdateAndADeltaModelAppliesOverTheFile() throws {
        let spilled = try rounds(spillAbove: 0)
        let held = try rounds(spillAbove: nil)
        XCTAssertEqual(spilled.bodies, held.bodies, "the deltas of both rounds are the same bytes")
        XCTAssertTrue(spilled.stages.allSatisfy { $0.contains(spillMark) }, "both rounds spilled: \(spilled.stages)")
        XCTAssertFalse(held.stages.contains { $0.contains(spillMark) })
        let delta = try DeltaDecoder(expectedShapes: Dictionary(uniqueKeysWithValues: try Sequential(spec: spec, seed: 1).stateDict()
            .map { ($0.name, $0.value.shape) }), maxBytes: 1 << 20, requireAllTensors: false).decode(spilled.bodies[1])
        XCTAssertTrue(delta["fc.weight"]?.data.contains { $0 != 0 } ?? false, "the node trained in round 2")
    }

    func testAFileThatCannotBeMadeLeavesTheGlobalInMemoryAndSaysSo() throws {
        let failed = try rounds(spillAbove: 0, directory: "/nonexistent-cohort-spill-dir")
        let held = try rounds(spillAbove: nil)
        XCTAssertEqual(failed.bodies, held.bodies, "the round goes on with the global in memory")
        XCTAssertFalse(failed.stages.contains { $0.contains(spillMark) })
        XCTAssertTrue(failed.log.contains("/nonexistent-cohort-spill-dir") && failed.log.contains("stays in memory this round"), failed.log)
    }

    func testUnderFedBNTheSitesOwnTensorsStayAndTheUpdatesAreTheSame() throws {
        // FedBN keeps the BatchNorm tensors at the site: they are not the received values and
        // are not spilled, and the delta MODEL of round 2 still matches its digest.
        let spilled = try rounds(spillAbove: 0, strategy: "fedbn")
        let held = try rounds(spillAbove: nil, strategy: "fedbn")
        XCTAssertEqual(spilled.bodies, held.bodies)
        XCTAssertTrue(spilled.stages.allSatisfy { $0.contains(spillMark) }, "\(spilled.stages)")
        let names = try DeltaDecoder(expectedShapes: Dictionary(uniqueKeysWithValues: try Sequential(spec: spec, seed: 1).stateDict()
            .map { ($0.name, $0.value.shape) }), maxBytes: 1 << 20, requireAllTensors: false).decode(spilled.bodies[1]).names
        XCTAssertFalse(names.contains { $0.hasPrefix("bn.") }, "FedBN sends no BatchNorm tensor: \(names)")
    }

    func testFedProxKeepsTheGlobalInMemory() throws {
        // The proximal term reads the global values at every step: they are not spilled.
        let prox = try rounds(spillAbove: 0, proximalMu: 0.1)
        XCTAssertFalse(prox.stages.contains { $0.contains(spillMark) }, "\(prox.stages)")
    }

    func testTheFileRoundTripsRangesAndAMissingDirectoryIsATypedError() throws {
        let file = try GlobalSpill(directory: NSTemporaryDirectory())
        let a = Tensor(shape: [3, 5], data: (0..<15).map { Float($0) * 1.5 - 4 })
        let b = Tensor(shape: [7], data: (0..<7).map { Float(-$0) })
        try file.write("a", a)
        try file.write("b", b)
        XCTAssertEqual(try file.load("a"), a)
        XCTAssertEqual(try file.load("b"), b)
        var out = [Float](repeating: 0, count: 4)
        try out.withUnsafeMutableBufferPointer { try file.read("a", elements: 6..<10, into: $0.baseAddress!) }
        XCTAssertEqual(out, Array(a.data[6..<10]))
        XCTAssertThrowsError(try out.withUnsafeMutableBufferPointer { try file.read("b", elements: 5..<9, into: $0.baseAddress!) }) {
            XCTAssertTrue($0 is GlobalSpillError, "\($0)")
        }
        XCTAssertThrowsError(try GlobalSpill(directory: "/nonexistent-cohort-spill-dir")) { error in
            let spill = error as? GlobalSpillError
            XCTAssertEqual(spill?.directory, "/nonexistent-cohort-spill-dir")
            XCTAssertEqual(spill?.errno, ENOENT)
            XCTAssertTrue("\(error)".contains("--spill-dir"), "\(error)")
        }
    }
}
