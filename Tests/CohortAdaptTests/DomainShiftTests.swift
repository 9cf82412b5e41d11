import XCTest
import CohortAdapt
import CohortNN
import CohortTensor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

final class DomainShiftTests: XCTestCase {
    /// Two moons under a per-feature affine calibration shift.
    private func moons(_ n: Int, seed: UInt64, gain: Float = 1, offset: Float = 0) -> Tensor {
        var rng = SeededRandom(seed: seed)
        var x: [Float] = []
        for i in 0..<n {
            let t = Float.pi * rng.uniform()
            let (a, b): (Float, Float) = i % 2 == 0 ? (cosf(t), sinf(t)) : (1 - cosf(t), 0.5 - sinf(t))
            x += [gain * (a + 0.1 * rng.normal()) + offset, gain * (b + 0.1 * rng.normal()) + offset]
        }
        return Tensor(shape: [n, 2], data: x)
    }

    /// Measured: unshifted site MMD 0.0092, PAD 0 (ε 0.513); mild shift (gain 1.3, offset 0.5)
    /// MMD 0.637, PAD 0.987 (ε 0.253); strong shift (gain 2.5, offset 3) MMD 3.94, PAD 2 (ε 0).
    func testShiftedSiteIsFartherByMMDAndProxyADistance() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [
            LayerSpec(.dense, name: "fc0", units: 16), LayerSpec(.relu, name: "relu0"), LayerSpec(.dense, name: "fc1", units: 2),
        ]), seed: 1)
        let labels = (0..<400).map { $0 % 2 }
        let opt = Adam(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)])
        _ = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 20, batchSize: 32))
            .fit(LabelledData(inputs: moons(400, seed: 1), labels: labels))
        let rows = try DomainShift.measure(model: model, cutAt: 2, source: moons(400, seed: 1), sites: [
            ("same", moons(300, seed: 2)), ("mild", moons(300, seed: 3, gain: 1.3, offset: 0.5)), ("strong", moons(300, seed: 4, gain: 2.5, offset: 3)),
        ])
        XCTAssertEqual(rows.map(\.site), ["same", "mild", "strong"])
        XCTAssertEqual(rows[0].samplesPerDomain, 300)
        let (same, mild, strong) = (rows[0], rows[1], rows[2])
        XCTAssertLessThan(same.mmd, mild.mmd)
        XCTAssertLessThan(mild.mmd, strong.mmd)
        XCTAssertLessThan(same.proxyADistance, 0.5, "\(same)")
        XCTAssertLessThan(same.proxyADistance, mild.proxyADistance)
        XCTAssertLessThan(mild.proxyADistance, strong.proxyADistance)
        XCTAssertGreaterThan(strong.proxyADistance, 1.8, "\(strong)")
        let decoded = try JSONDecoder().decode([ShiftRow].self, from: JSONEncoder().encode(rows))
        XCTAssertEqual(decoded, rows)
    }

    func testRejectsABadCutAndTooFewRows() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "fc", units: 2)]), seed: 1)
        XCTAssertThrowsError(try DomainShift.measure(model: model, cutAt: 3, source: moons(10, seed: 1), sites: [])) {
            XCTAssertTrue("\($0)".contains("cutAt 3"), "\($0)")
        }
        XCTAssertThrowsError(try DomainShift.measure(model: model, cutAt: 1, source: moons(10, seed: 1), sites: [("tiny", moons(2, seed: 2))])) {
            XCTAssertTrue("\($0)".contains("'tiny'"), "\($0)")
        }
    }
}
