import XCTest
import CohortAdapt
import CohortNN
import CohortTensor

/// AdaBN estimates statistics with drop-path held off (as dropout), and turns it back on.
final class AdaBNDropPathTests: XCTestCase {
    func testDropPathIsHeldOffWhileStatisticsAreEstimated() throws {
        let spec = ModelSpec(inputShape: [3], layers: [
            LayerSpec(.droppath, name: "dp", rate: 0.9),
            LayerSpec(.batchnorm1d, name: "bn"),
        ])
        let model = try Sequential(spec: spec, seed: 1)
        var rng = SeededRandom(seed: 2)
        let inputs = Tensor(shape: [200, 3], data: (0..<600).map { _ in rng.normal() + 5 })
        XCTAssertEqual(AdaBN.adapt(model, inputs: inputs, batchSize: 50), 1)
        let bn = try XCTUnwrap(model.layer(named: "bn") as? BatchNorm)
        // With 90 % of samples zeroed (and the rest scaled ×10) the mean would still be near 5,
        // but the variance would be about 10·25 instead of 1.
        for j in 0..<3 {
            let column = (0..<200).map { inputs.data[$0 * 3 + j] }
            let mean = column.reduce(0, +) / 200
            XCTAssertEqual(bn.runningMean.value.data[j], mean, accuracy: 1e-3)
            XCTAssertLessThan(bn.runningVar.value.data[j], 2)
        }
        let path = try XCTUnwrap(model.layer(named: "dp") as? DropPath)
        XCTAssertTrue(path.isActive)
        _ = model.forward(Tensor(shape: [64, 3], repeating: 1), mode: .training)
        XCTAssertTrue(path.lastMask.contains(0), "drop-path is active again after AdaBN")
    }
}
