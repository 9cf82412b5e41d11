import XCTest
import CohortAdapt
import CohortTensor
import Foundation

final class LogMETests: XCTestCase {
    /// `scripts/logme-reference.py` (the published algorithm in numpy) prints 14.822266392529967
    /// for these features: sin(0.7 i + j) + 1.5·[y = j mod 3] + 0.1 j.
    func testMatchesNumpyReference() {
        let n = 60, d = 5
        let labels = (0..<n).map { $0 % 3 }
        var f = [Float](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { f[i * d + j] = Float(sin(0.7 * Double(i) + Double(j)) + (labels[i] == j % 3 ? 1.5 : 0) + 0.1 * Double(j)) } }
        let score = LogME.score(features: Tensor(shape: [n, d], data: f), labels: labels, classes: 3)
        XCTAssertEqual(score, 14.822266392529967, accuracy: 1e-6 * 14.8)
    }

    func testInformativeFeaturesOutrankNoise() {
        var rng = SeededRandom(seed: 4)
        let n = 200, d = 16
        let labels = (0..<n).map { _ in rng.int(below: 4) }
        var good = [Float](repeating: 0, count: n * d), poor = good
        for i in 0..<n {
            for j in 0..<d {
                good[i * d + j] = (labels[i] == j % 4 ? 2 : 0) + 0.5 * rng.normal()
                poor[i * d + j] = rng.normal()
            }
        }
        let g = LogME.score(features: Tensor(shape: [n, d], data: good), labels: labels, classes: 4)
        let p = LogME.score(features: Tensor(shape: [n, d], data: poor), labels: labels, classes: 4)
        XCTAssertGreaterThan(g, p + 0.1, "good \(g) vs poor \(p)")
    }

    func testJacobiEigenDecomposition() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let (values, vectors) = SymmetricEigen.decompose([2, 1, 1, 2], n: 2)
        XCTAssertEqual(values.sorted()[0], 1, accuracy: 1e-12)
        XCTAssertEqual(values.sorted()[1], 3, accuracy: 1e-12)
        // A·v = λ·v for each column.
        for j in 0..<2 {
            let v0 = vectors[0 * 2 + j], v1 = vectors[1 * 2 + j]
            XCTAssertEqual(2 * v0 + v1, values[j] * v0, accuracy: 1e-12)
            XCTAssertEqual(v0 + 2 * v1, values[j] * v1, accuracy: 1e-12)
        }
    }
}
