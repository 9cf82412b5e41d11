import XCTest
import CohortTensor

/// `VectorKernels.fillRows` and `sum` at sizes that take the two-thread path (and a small one
/// that does not), against plain loops.
final class RowFillAndSumTests: XCTestCase {
    func testFillRowsWritesEveryRow() {
        for (rows, cols) in [(2080, 576), (7, 5), (1, 40000)] {
            let row = (0..<cols).map { Float($0) * 0.5 - 3 }
            var m = [Float](repeating: .nan, count: rows * cols)
            row.withUnsafeBufferPointer { r in
                m.withUnsafeMutableBufferPointer { VectorKernels.fillRows(rows: rows, cols: cols, row: r.baseAddress!, into: $0.baseAddress!) }
            }
            for i in [0, rows / 2, rows - 1] {
                XCTAssertEqual(Array(m[(i * cols)..<((i + 1) * cols)]), row, "row \(i) of \(rows)×\(cols)")
            }
            XCTAssertFalse(m.contains { $0.isNaN }, "\(rows)×\(cols): a value left unwritten")
        }
    }

    func testSumMatchesPlainLoop() {
        for count in [400_000, 65_537, 13, 0] {
            var rng = SeededRandom(seed: UInt64(count))
            let x = (0..<count).map { _ in rng.normal() }, y = (0..<count).map { _ in rng.normal() }
            var z = [Float](repeating: .nan, count: count)
            x.withUnsafeBufferPointer { px in
                y.withUnsafeBufferPointer { py in
                    z.withUnsafeMutableBufferPointer { VectorKernels.sum(count: count, px.baseAddress!, py.baseAddress!, into: $0.baseAddress!) }
                }
            }
            XCTAssertEqual(z, zip(x, y).map { $0 + $1 }, "count \(count)")
        }
    }
}
