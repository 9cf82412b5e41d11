import CohortSimulation
import CohortTensor
import XCTest

final class PrincipalComponentsTests: XCTestCase {
    /// Points stretched ×10 along u = (0.6, 0.8, 0) and ×1 along w = (-0.8, 0.6, 0), offset by
    /// (5, -3, 7). With t and s centred and uncorrelated, the covariance is exactly
    /// 250·uuᵀ + 1·wwᵀ, so PC1 = u (its largest loading 0.8 is positive), PC2 = -w, the
    /// projections are 10·t and -s, and the explained variance is 250/251 and 1/251.
    func testKnownStretchedDirection() {
        let t: [Double] = [-2, -1, 0, 1, 2]
        let s: [Double] = [1, -1, 0, -1, 1]
        let u = [0.6, 0.8, 0.0], w = [-0.8, 0.6, 0.0], offset = [5.0, -3.0, 7.0]
        var rows: [[Float]] = []
        for i in 0..<5 {
            var row: [Float] = []
            for j in 0..<3 {
                let value: Double = offset[j] + 10 * t[i] * u[j] + s[i] * w[j]
                row.append(Float(value))
            }
            rows.append(row)
        }
        let (points, explained) = PrincipalComponents.project(rows, components: 2)
        XCTAssertEqual(points.count, 5)
        for i in 0..<5 {
            XCTAssertEqual(points[i][0], 10 * t[i], accuracy: 1e-4)
            XCTAssertEqual(points[i][1], -s[i], accuracy: 1e-4)
        }
        XCTAssertEqual(explained[0], 250.0 / 251.0, accuracy: 1e-6)
        XCTAssertEqual(explained[1], 1.0 / 251.0, accuracy: 1e-6)
    }

    func testOverloadsAgree() {
        var noise: UInt64 = 7
        func next() -> Float {
            noise = noise &* 6364136223846793005 &+ 1
            return Float(noise >> 40) / Float(1 << 24) - 0.5
        }
        let rows: [[Float]] = (0..<40).map { i in (0..<6).map { j in next() * Float(j + 1) + Float(i % 3) } }
        let a = PrincipalComponents.project(rows, components: 2)
        let b = PrincipalComponents.project(rows.flatMap { $0 }, columns: 6, components: 2)
        let c = PrincipalComponents.project(Tensor(shape: [40, 6], data: rows.flatMap { $0 }), components: 2)
        XCTAssertEqual(a.points, b.points)
        XCTAssertEqual(a.points, c.points)
        XCTAssertEqual(a.explainedVariance, c.explainedVariance)
        XCTAssertGreaterThanOrEqual(a.explainedVariance[0], a.explainedVariance[1])
        // Projections on different axes are uncorrelated.
        let dot = a.points.reduce(0) { $0 + $1[0] * $1[1] }
        XCTAssertEqual(dot, 0, accuracy: 1e-6 * a.points.reduce(0) { $0 + $1[0] * $1[0] })
    }

    func testDegenerateInputs() {
        let same = PrincipalComponents.project([[1, 2, 3], [1, 2, 3], [1, 2, 3]], components: 2)
        XCTAssertEqual(same.points, [[0, 0], [0, 0], [0, 0]])
        XCTAssertEqual(same.explainedVariance, [0, 0])
        let narrow = PrincipalComponents.project([[1], [3]], components: 2)
        XCTAssertEqual(narrow.points, [[-1, 0], [1, 0]])
        XCTAssertEqual(narrow.explainedVariance, [1, 0])
        XCTAssertTrue(PrincipalComponents.project([[Float]](), components: 2).points.isEmpty)
    }
}
