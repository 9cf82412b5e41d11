import XCTest
import CohortCheckpoint
import CohortTensor
@testable import CohortFederation

/// Issue 19: the coordinator's FedAvg sum can be made ahead of the round's first UPDATE on a
/// thread of its own (`WeightedDeltaSum.prepare`). The aggregate is the same bits, and a
/// prepared tensor no update carries leaves the global unchanged.
final class PreparedSumsTests: XCTestCase {
    private func tensor(_ n: Int, seed: UInt64) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor(shape: [n], data: (0..<n).map { _ in rng.normal() })
    }

    private func aggregate(prepared: Bool, resetAfterPreparing: Bool = false) throws -> [String: Tensor] {
        let global: [String: Tensor] = ["a": tensor(1000, seed: 1), "b": tensor(10, seed: 2), "frozen": tensor(50, seed: 3)]
        let sum = WeightedDeltaSum()
        if prepared { sum.prepare(counts: ["a": 1000, "b": 10, "frozen": 50]) }
        if resetAfterPreparing { sum.reset() }   // a round begins after the sum was prepared (the coordinator's first)
        for (i, samples) in [3.0, 7.0, 1.0].enumerated() {
            let local = [("a", tensor(1000, seed: 10 + UInt64(i))), ("b", tensor(10, seed: 20 + UInt64(i)))]
            let delta = try ModelDelta(local: local, global: global.map { ($0.key, $0.value) }, trainable: ["a", "b"])
            sum.add(delta, weight: samples)
        }
        return sum.applyMean(to: global)
    }

    func testAPreparedSumGivesTheSameAggregateBitForBit() throws {
        let plain = try aggregate(prepared: false)
        let prepared = try aggregate(prepared: true)
        XCTAssertEqual(Set(plain.keys), Set(prepared.keys))
        for (name, value) in plain {
            XCTAssertEqual(value.data.map(\.bitPattern), prepared[name]?.data.map(\.bitPattern), name)
        }
        let kept = try aggregate(prepared: true, resetAfterPreparing: true)
        for (name, value) in plain {
            XCTAssertEqual(value.data.map(\.bitPattern), kept[name]?.data.map(\.bitPattern), "\(name), prepared before the round began")
        }
        XCTAssertEqual(prepared["frozen"], tensor(50, seed: 3), "a prepared tensor no update carried is unchanged")
        XCTAssertNotEqual(prepared["a"], tensor(1000, seed: 1), "the carried tensors moved")
    }

    func testPreparedSumsNoUpdateCarriedHaveNoMean() {
        let sum = WeightedDeltaSum()
        sum.prepare(counts: ["a": 1 << 20])
        sum.reset()
        XCTAssertTrue(sum.mean().isEmpty, "a zero sum with no weight is not a mean")
        XCTAssertEqual(sum.sums["a"]?.count, 1 << 20, "taken by the first read")
    }
}
