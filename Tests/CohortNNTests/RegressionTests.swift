import XCTest
import CohortNN
import CohortTensor

final class RegressionTests: XCTestCase {
    private func numericGradient(_ x: Tensor, _ f: (Tensor) -> Float) -> [Float] {
        (0..<x.count).map { i in
            var xp = x, xm = x
            let h: Float = 1e-2
            xp.data[i] += h; xm.data[i] -= h
            return (f(xp) - f(xm)) / (2 * h)
        }
    }

    /// Outputs and targets whose residuals stay away from the kinks of MAE (0) and Huber (±δ),
    /// where a central difference straddling the kink would not be the derivative.
    private func pair(seed: UInt64) -> (Tensor, Tensor) {
        var rng = SeededRandom(seed: seed)
        var out: [Float] = [], target: [Float] = []
        for i in 0..<12 {
            let t = 2 * rng.normal()
            // residuals spread over ±(0.2 … 3), none within 0.05 of 0 or of ±1 (the Huber δ used below)
            let r: Float = [0.2, -0.4, 0.7, -0.6, 1.5, -2.2, 3.0, -1.3, 0.3, -0.8, 2.5, -0.25][i]
            out.append(t + r); target.append(t)
        }
        return (Tensor(shape: [6, 2], data: out), Tensor(shape: [6, 2], data: target))
    }

    func testRegressionLossGradientsMatchFiniteDifferences() {
        let (out, target) = pair(seed: 3)
        for loss in [RegressionLoss.mse, .mae, .huber(delta: 1), .huber(delta: 0.5)] {
            let r = loss.evaluate(output: out, target: target)
            let num = numericGradient(out) { loss.evaluate(output: $0, target: target).value }
            XCTAssertLessThan(GradientCheck.relativeError(r.gradient.data, num), 1e-2, "\(loss)")
            XCTAssertEqual(r.gradient.shape, out.shape)
        }
    }

    func testRegressionLossKnownValues() {
        let out = Tensor(shape: [4, 1], data: [1, -2, 0.5, 4])
        let target = Tensor(shape: [4, 1], data: [0, 0, 0, 0])
        XCTAssertEqual(RegressionLoss.mse.evaluate(output: out, target: target).value, (1 + 4 + 0.25 + 16) / 4, accuracy: 1e-6)
        XCTAssertEqual(RegressionLoss.mae.evaluate(output: out, target: target).value, (1 + 2 + 0.5 + 4) / 4, accuracy: 1e-6)
        // δ = 1: 0.5, 1·(2 − 0.5), 0.125, 1·(4 − 0.5)
        XCTAssertEqual(RegressionLoss.huber(delta: 1).evaluate(output: out, target: target).value, (0.5 + 1.5 + 0.125 + 3.5) / 4, accuracy: 1e-6)
        // A large residual's Huber gradient is clipped at δ/n; MSE's is not.
        XCTAssertEqual(RegressionLoss.huber(delta: 1).evaluate(output: out, target: target).gradient.data[3], 0.25, accuracy: 1e-6)
        XCTAssertEqual(RegressionLoss.mse.evaluate(output: out, target: target).gradient.data[3], 2 * 4 / 4, accuracy: 1e-6)
    }

    func testRegressionLossParsing() {
        XCTAssertEqual(RegressionLoss(text: "MSE"), .mse)
        XCTAssertEqual(RegressionLoss(text: "huber"), .huber(delta: 1))
        XCTAssertEqual(RegressionLoss(text: "huber:0.25"), .huber(delta: 0.25))
        XCTAssertNil(RegressionLoss(text: "huber:-1"))
        XCTAssertNil(RegressionLoss(text: "huber:nan"))
        XCTAssertNil(RegressionLoss(text: "l1"))
    }

    func testRegressionReportInOriginalUnits() throws {
        // Standardised with centre 10, scale 2: targets 8, 10, 12, 14; predictions 9, 10, 12, 12.
        let scaling = TargetScaling(center: [10], scale: [2])
        let r = try RegressionReport(predictions: [-0.5, 0, 1, 1], targets: [-1, 0, 1, 2], outputs: 1, scaling: scaling)
        XCTAssertEqual(r.samples, 4)
        XCTAssertEqual(r.mae, (1 + 0 + 0 + 2) / 4, accuracy: 1e-9)
        XCTAssertEqual(r.rmse, ((1 + 0 + 0 + 4) / 4.0).squareRoot(), accuracy: 1e-9)
        // mean 11, SS_tot = 9 + 1 + 1 + 9 = 20, SS_res = 5
        XCTAssertEqual(r.r2, 1 - 5.0 / 20, accuracy: 1e-9)
        // A perfect prediction has R² 1; predicting the mean has R² 0.
        XCTAssertEqual(try RegressionReport(predictions: [1, 2, 3], targets: [1, 2, 3], outputs: 1).r2, 1, accuracy: 1e-12)
        XCTAssertEqual(try RegressionReport(predictions: [2, 2, 2], targets: [1, 2, 3], outputs: 1).r2, 0, accuracy: 1e-12)
    }

    func testRegressionReportRefusesBadInput() {
        XCTAssertThrowsError(try RegressionReport(predictions: [], targets: [], outputs: 1))
        XCTAssertThrowsError(try RegressionReport(predictions: [1], targets: [1, 2], outputs: 1))
        XCTAssertThrowsError(try RegressionReport(predictions: [.nan, 1], targets: [1, 2], outputs: 1))
        XCTAssertThrowsError(try RegressionReport(predictions: [1, 2, 3], targets: [1, 2, 3], outputs: 2))
    }

    /// y = 2·x0 − x1 + 0.5 + small noise: a linear head trained with each loss reaches R² near 1,
    /// where the untrained model is far from it.
    func testTrainerFitsALinearTarget() throws {
        var rng = SeededRandom(seed: 11)
        let n = 200
        var x: [Float] = [], y: [Float] = []
        for _ in 0..<n {
            let a = rng.normal(), b = rng.normal()
            x += [a, b]
            y.append(2 * a - b + 0.5 + 0.05 * rng.normal())
        }
        let data = LabelledData(inputs: Tensor(shape: [n, 2], data: x), targets: Tensor(shape: [n, 1], data: y))
        for loss in [RegressionLoss.mse, .mae, .huber(delta: 1)] {
            let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 1)]), seed: 1)
            let before = try Inference.regressionReport(model, data)
            XCTAssertLessThan(before.r2, 0.5, "untrained \(loss)")
            let trainer = Trainer(model: model, optimizer: SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.05)], momentum: 0.9),
                                  config: TrainingConfig(epochs: 30, batchSize: 16, seed: 2))
            trainer.config.regressionLoss = loss
            let history = try trainer.fit(data, validation: data)
            let after = try Inference.regressionReport(model, data)
            XCTAssertGreaterThan(after.r2, 0.98, "\(loss)")
            XCTAssertLessThan(after.mae, 0.2, "\(loss)")
            XCTAssertEqual(Double(history.epochs[history.selectedEpoch].validationScore!), after.r2, accuracy: 1e-4)
            XCTAssertTrue(Inference.accuracy(model, data).isNaN, "accuracy is undefined for regression")
        }
    }

    func testTrainerRefusesTargetWidthAndNonFiniteTargets() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 1)]), seed: 1)
        let trainer = Trainer(model: model, optimizer: SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.05)]),
                              config: TrainingConfig(epochs: 1, batchSize: 2))
        let wide = LabelledData(inputs: Tensor(shape: [2, 2], data: [1, 2, 3, 4]), targets: Tensor(shape: [2, 2], data: [1, 2, 3, 4]))
        XCTAssertThrowsError(try trainer.fit(wide)) { XCTAssertTrue("\($0)".contains("2 regression target(s)"), "\($0)") }
        let bad = LabelledData(inputs: Tensor(shape: [2, 2], data: [1, 2, 3, 4]), targets: Tensor(shape: [2, 1], data: [1, .infinity]))
        XCTAssertThrowsError(try trainer.fit(bad)) { XCTAssertTrue("\($0)".contains("row 1"), "\($0)") }
    }

    func testSubsetKeepsTargetsAndScaling() {
        let data = LabelledData(inputs: Tensor(shape: [3, 1], data: [0, 1, 2]), targets: Tensor(shape: [3, 1], data: [10, 11, 12]),
                                scaling: TargetScaling(center: [1], scale: [2]))
        let s = data.subset([2, 0])
        XCTAssertEqual(s.targets?.data, [12, 10])
        XCTAssertEqual(s.inputs.data, [2, 0])
        XCTAssertEqual(s.targetScaling, TargetScaling(center: [1], scale: [2]))
    }
}
