import XCTest
import CohortCheckpoint
import CohortFederation
import CohortTensor

/// Server optimizer moments survive a save and restore exactly, and bad state is refused.
final class ServerStateTests: XCTestCase {
    let global: [String: Tensor] = ["w": Tensor(shape: [3], data: [1, -2, 0.5]), "b": Tensor(shape: [1], data: [0.25])]

    func round(_ s: ServerOptimizer, _ g: [String: Tensor], _ k: Float) throws -> [String: Tensor] {
        s.begin(round: 1, global: g)
        try s.accumulate(try ModelDelta([("w", Tensor(shape: [3], data: [k, -k / 3, 0.1])), ("b", Tensor(shape: [1], data: [k * k]))]), samples: 3)
        return try s.finish()
    }

    func testRestoredMomentsContinueBitForBit() throws {
        for kind in [ServerOptimizer.Kind.adam, .yogi, .adagrad] {
            let a = ServerOptimizer(kind)
            var g = try round(a, global, 0.3)
            g = try round(a, g, -0.2)
            let saved = a.savedState()
            XCTAssertEqual(saved.map(\.name), ["m/b", "v/b", "m/w", "v/w"])
            let b = ServerOptimizer(kind)
            try b.restore(saved)
            XCTAssertEqual(try round(b, g, 0.7).mapValues { $0.data.map(\.bitPattern) }, try round(a, g, 0.7).mapValues { $0.data.map(\.bitPattern) }, "\(kind)")
            // Without the moments the next step differs: what the journal protects.
            let c = ServerOptimizer(kind)
            try c.restore(saved)
            XCTAssertNotEqual(try round(ServerOptimizer(kind), g, 0.7)["w"]!.data, try round(c, g, 0.7)["w"]!.data)
        }
    }

    func testMalformedStateIsRefused() {
        let s = ServerOptimizer(.adam)
        XCTAssertThrowsError(try s.restore([("x/w", Tensor(shape: [1]))])) {
            XCTAssertEqual("\($0)", "fedadam state: unexpected tensor 'x/w' (expected m/<name> and v/<name>)")
        }
        XCTAssertThrowsError(try s.restore([("m/w", Tensor(shape: [2])), ("v/w", Tensor(shape: [3]))])) {
            XCTAssertEqual("\($0)", "fedadam state: tensor 'w' has a first moment without a matching second moment")
        }
    }
}
