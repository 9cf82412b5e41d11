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

    /// Three FedAvg rounds through `StreamingRound` as the coordinator runs them (begin, then
    /// prepare, then the folds): from round 2 the sum is made in the storage of the global the
    /// round before last (memory already touched), and every round's aggregate is the same bits
    /// as with sums made new.
    func testTheLastRoundsGlobalBecomesTheNextSum() throws {
        func run(recycling: Bool) throws -> (globals: [[String: Tensor]], reused: [Bool]) {
            let round = StreamingRound()
            var global: [String: Tensor] = ["a": tensor(4096, seed: 1), "b": tensor(10, seed: 2)]
            var globals: [[String: Tensor]] = [], reused: [Bool] = []
            for r in 0..<3 {
                // Where the global of the round before this one lives (the one begin lets go of).
                let before = round.global["a"].map { $0.data.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }
                round.begin(global: global)
                // Takes any freed block of that size, so the sum can land where the old global
                // was only if it is that storage, kept (not freed and allocated again).
                let decoy = [Float](repeating: 1, count: 4096)
                defer { withExtendedLifetime(decoy) {} }
                if recycling || r == 0 { round.sum.prepare(counts: ["a": 4096]) }
                for (i, samples) in [3.0, 5.0].enumerated() {
                    let local = [("a", tensor(4096, seed: UInt64(100 * r + 10 + i))), ("b", tensor(10, seed: UInt64(100 * r + 20 + i)))]
                    let delta = try ModelDelta(local: local, global: global.map { ($0.key, $0.value) }, trainable: ["a", "b"])
                    try round.accumulate(delta, samples: Int(samples))
                }
                let summedAt = round.sum.sums["a"]!.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }
                reused.append(before == summedAt)
                global = round.sum.applyMean(to: round.global)
                globals.append(global.mapValues { Tensor(shape: $0.shape, data: $0.data.map { $0 }) })   // copies, not shared storage
            }
            return (globals, reused)
        }
        let recycled = try run(recycling: true), fresh = try run(recycling: false)
        XCTAssertEqual(recycled.reused, [false, true, true], "rounds 2 and 3 sum into the storage of the global before")
        for r in 0..<3 {
            for name in ["a", "b"] {
                XCTAssertEqual(recycled.globals[r][name]?.data.map(\.bitPattern), fresh.globals[r][name]?.data.map(\.bitPattern), "round \(r + 1), \(name)")
            }
        }
        XCTAssertNotEqual(recycled.globals[2]["a"], recycled.globals[1]["a"])
    }
}
