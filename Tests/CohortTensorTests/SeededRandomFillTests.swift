import XCTest
import CohortTensor

/// The bulk generator must draw exactly what one `uniform(_:_:)` call per element draws, so
/// that seeded initial weights stay what they were before it (simulations and checkpoints
/// made with a seed reproduce).
final class SeededRandomFillTests: XCTestCase {
    func testUniformArrayIsTheSameSequenceAsOneDrawPerElement() {
        for (seed, count, low, high) in [(UInt64(1), 1, Float(-1), Float(1)), (7, 1000, -0.03, 0.03), (99, 4097, 0, 5), (3, 0, -1, 1)] {
            var bulk = SeededRandom(seed: seed), single = SeededRandom(seed: seed)
            let values = bulk.uniformArray(count: count, low, high)
            let expected = (0..<count).map { _ in single.uniform(low, high) }
            XCTAssertEqual(values.map(\.bitPattern), expected.map(\.bitPattern), "seed \(seed), \(count) values")
            // Both generators are left at the same point of the stream.
            XCTAssertEqual(bulk.next(), single.next())
            XCTAssertTrue(values.allSatisfy { $0 >= low && ($0 < high || count == 0) }, "values within [\(low), \(high))")
        }
    }

    func testFillUniformWritesEveryElementInPlace() {
        var a = SeededRandom(seed: 11), b = SeededRandom(seed: 11)
        var buffer = [Float](repeating: .nan, count: 333)
        buffer.withUnsafeMutableBufferPointer { a.fillUniform($0, -2, 2) }
        XCTAssertEqual(buffer, (0..<333).map { _ in b.uniform(-2, 2) })
        XCTAssertFalse(buffer.contains { $0.isNaN })
    }
}
