import XCTest
import CohortCheckpoint
import CohortNN
import CohortTensor
import CohortTransport
@testable import CohortFederation

/// MODEL deltas: which tensors the coordinator marks as changed, a node rebuilding the global
/// model from a delta bit for bit, and the digest catching a delta that does not rebuild it.
final class DownlinkTests: XCTestCase {
    private let shapes = ["a": [3], "b": [2, 2], "c": [1]]

    private func weights(_ a: [Float], _ b: [Float], _ c: [Float]) -> [(name: String, value: Tensor)] {
        [("a", Tensor(shape: [3], data: a)), ("b", Tensor(shape: [2, 2], data: b)), ("c", Tensor(shape: [1], data: c))]
    }

    /// The MODEL payload the coordinator would send from `global` to a node at `base`.
    private func payload(_ global: [(name: String, value: Tensor)], version: Int, base: Int?, tracker: DownlinkTracker) throws -> [UInt8] {
        var header = RoundMessages.ModelHeader(round: version + 1, modelVersion: version, plan: TrainingPlan(),
                                               architecture: ModelSpec(inputShape: [1], layers: []))
        let changed = tracker.changed(after: base, current: version)
        header.baseVersion = changed == nil ? nil : base
        header.modelDigest = tracker.digest(of: global, version: version)
        // The same bytes as the streamed MODEL (RoundMessageStreamTests).
        return try RoundMessages.payload(header, body: try RoundMessages.weightsBody(global.filter { changed?.contains($0.name) ?? true }))
    }

    private func apply(_ node: inout ReceivedGlobal, _ bytes: [UInt8]) throws -> [String: Tensor] {
        let (header, body) = try RoundMessages.parse(bytes, as: RoundMessages.ModelHeader.self)
        return try node.apply(header, body: body, shapes: shapes)
    }

    private func bits(_ w: [String: Tensor]) -> [String: [UInt32]] { w.mapValues { $0.data.map(\.bitPattern) } }
    private func bits(_ w: [(name: String, value: Tensor)]) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: w.map { ($0.name, $0.value.data.map(\.bitPattern)) })
    }

    func testTheTrackerMarksExactlyTheTensorsWhoseBitsChanged() {
        let v0 = weights([1, 2, 3], [0, 0, 0, 0], [5])
        let v1 = weights([1, 2, 3.5], [0, 0, 0, 0], [5])          // a changed
        let v2 = weights([1, 2, 3.5], [0, 0, -0.0, 0], [5])       // b changed only in its sign bit (== would miss it)
        let tracker = DownlinkTracker(names: ["a", "b", "c"], version: 0, fullModels: false)
        tracker.advance(from: v0, to: v1, version: 1)
        tracker.advance(from: v1, to: v2, version: 2)
        XCTAssertEqual(tracker.changed(after: 0, current: 2), ["a", "b"])
        XCTAssertEqual(tracker.changed(after: 1, current: 2), ["b"])
        XCTAssertEqual(tracker.changed(after: 2, current: 2), [])
        XCTAssertNil(tracker.changed(after: nil, current: 2), "a node that acknowledged nothing gets the whole model")
        XCTAssertNil(tracker.changed(after: 3, current: 2), "a version from the future is not vouched for")
        let resumed = DownlinkTracker(names: ["a", "b", "c"], version: 5, fullModels: false)
        XCTAssertNil(resumed.changed(after: 4, current: 5), "versions before the tracker started are unknown")
        XCTAssertEqual(resumed.changed(after: 5, current: 5), [])
        XCTAssertNil(DownlinkTracker(names: ["a"], version: 0, fullModels: true).changed(after: 0, current: 0), "--full-models")
    }

    func testADeltaRebuildsTheGlobalModelBitForBitFromAnyVersionSinceItsBase() throws {
        let v0 = weights([1, 2, 3], [4, 5, 6, 7], [8])
        let v1 = weights([1.25, 2, 3], [4, 5, 6, 7], [8])
        let v2 = weights([1.25, 2, 3], [4, 5, 6.5, .leastNonzeroMagnitude], [8])
        let tracker = DownlinkTracker(names: ["a", "b", "c"], version: 0, fullModels: false)
        var early = ReceivedGlobal(), late = ReceivedGlobal()
        XCTAssertEqual(bits(try apply(&early, try payload(v0, version: 0, base: nil, tracker: tracker))), bits(v0))
        tracker.advance(from: v0, to: v1, version: 1)
        _ = try apply(&late, try payload(v1, version: 1, base: nil, tracker: tracker))
        tracker.advance(from: v1, to: v2, version: 2)
        let fromZero = try payload(v2, version: 2, base: 0, tracker: tracker)
        XCTAssertLessThan(fromZero.count, try payload(v2, version: 2, base: nil, tracker: tracker).count)
        // A node at version 0 and one at version 1 (≥ the base) both rebuild version 2 exactly.
        XCTAssertEqual(bits(try apply(&early, fromZero)), bits(v2))
        XCTAssertEqual(bits(try apply(&late, fromZero)), bits(v2))
        XCTAssertEqual(early.version, 2)
        // From version 1 only b travels; c never does after the first model.
        let (header, body) = try RoundMessages.parse(try payload(v2, version: 2, base: 1, tracker: tracker), as: RoundMessages.ModelHeader.self)
        XCTAssertEqual(header.baseVersion, 1)
        XCTAssertEqual(Set(try RoundMessages.decodeWeights(body, shapes: shapes, complete: false).keys), ["b"])
    }

    func testADeltaThatDoesNotRebuildTheDigestIsRefusedAndTheCopyForgotten() throws {
        let v0 = weights([1, 2, 3], [4, 5, 6, 7], [8])
        let v1 = weights([1, 2, 9], [4, 5, 6, 7], [8])
        let tracker = DownlinkTracker(names: ["a", "b", "c"], version: 0, fullModels: false)
        var node = ReceivedGlobal()
        _ = try apply(&node, try payload(v0, version: 0, base: nil, tracker: tracker))
        tracker.advance(from: v0, to: v1, version: 1)
        var delta = try payload(v1, version: 1, base: 0, tracker: tracker)
        // Flip the low bit of the last float of the body (a's last element, 9).
        delta[delta.count - 4] ^= 1
        XCTAssertThrowsError(try apply(&node, delta)) { error in
            XCTAssertTrue(error is ReceivedGlobal.Mismatch, "\(error)")
            XCTAssertTrue("\(error)".contains("has digest"), "\(error)")
        }
        XCTAssertNil(node.version, "a copy that failed its check is dropped: the next MODEL must be whole")
        // Without a copy, a delta is refused before anything is decoded.
        XCTAssertThrowsError(try apply(&node, try payload(v1, version: 1, base: 0, tracker: tracker))) {
            XCTAssertTrue("\($0)".contains("but this node holds no global model"), "\($0)")
        }
        // A delta whose base is newer than the copy held is refused too.
        var stale = ReceivedGlobal()
        _ = try apply(&stale, try payload(v0, version: 0, base: nil, tracker: tracker))
        let v2 = weights([7, 2, 9], [4, 5, 6, 7], [8])
        tracker.advance(from: v1, to: v2, version: 2)
        XCTAssertThrowsError(try apply(&stale, try payload(v2, version: 2, base: 1, tracker: tracker))) {
            XCTAssertTrue("\($0)".contains("delta from version 1 to 2, but this node holds version 0"), "\($0)")
        }
        XCTAssertEqual(stale.version, 0, "a refused delta leaves the copy as it was")
    }

    func testTheDigestCoversEveryBitNameAndShapeButNotTheListOrder() {
        let w = weights([1, 2, 3], [4, 5, 6, 7], [8])
        let d = ModelDigest.sha256Hex(w)
        XCTAssertEqual(d.count, 64)
        XCTAssertEqual(ModelDigest.sha256Hex(Array(w.reversed())), d)
        var flipped = w
        flipped[1].value.data[3] = Float(bitPattern: flipped[1].value.data[3].bitPattern ^ 1)
        XCTAssertNotEqual(ModelDigest.sha256Hex(flipped), d)
        var renamed = w
        renamed[2].name = "d"
        XCTAssertNotEqual(ModelDigest.sha256Hex(renamed), d)
        var reshaped = w
        reshaped[1].value = Tensor(shape: [4], data: [4, 5, 6, 7])
        XCTAssertNotEqual(ModelDigest.sha256Hex(reshaped), d)
    }
}
