import XCTest
import CohortTensor

/// `VectorKernels.largestMagnitude` gives what a scalar loop over `abs(x)` gives, and nil
/// for any NaN or infinity, wherever it sits (vector body or tail).
final class LargestMagnitudeTests: XCTestCase {
    private func scalar(_ xs: [Float]) -> Float? {
        var worst: Float = 0
        for x in xs {
            guard x.isFinite else { return nil }
            worst = max(worst, abs(x))
        }
        return worst
    }

    func testItMatchesTheScalarLoopAndFindsEveryNonFiniteValue() {
        var rng = SeededRandom(seed: 11)
        XCTAssertEqual([Float]().withUnsafeBufferPointer(VectorKernels.largestMagnitude), 0)
        for count in [1, 7, 15, 16, 17, 33, 1000, 4099] {
            var xs = (0..<count).map { _ in rng.normal() * 3 }
            XCTAssertEqual(xs.withUnsafeBufferPointer(VectorKernels.largestMagnitude), scalar(xs), "count \(count)")
            for special: Float in [-1e30, .greatestFiniteMagnitude, -.leastNonzeroMagnitude, -0.0] {
                for at in Set([0, count / 2, count - 1]) {
                    var ys = xs
                    ys[at] = special
                    XCTAssertEqual(ys.withUnsafeBufferPointer(VectorKernels.largestMagnitude), scalar(ys), "\(special) at \(at) of \(count)")
                }
            }
            for bad: Float in [.nan, -.nan, .infinity, -.infinity, Float(bitPattern: 0x7F80_0001)] {
                for at in Set([0, count / 2, count - 1]) {
                    let saved = xs[at]
                    xs[at] = bad
                    XCTAssertNil(xs.withUnsafeBufferPointer(VectorKernels.largestMagnitude), "\(bad) at \(at) of \(count)")
                    xs[at] = saved
                }
            }
        }
    }
}
