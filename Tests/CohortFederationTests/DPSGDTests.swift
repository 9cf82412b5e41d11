import XCTest
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Record-level DP-SGD (`DPSGD`): per-example clipping, the noise, and that without either it is
/// plain SGD on the batch mean.
final class DPSGDTests: XCTestCase {
    private func mlp(seed: UInt64, inputs: Int = 6, hidden: Int = 16, classes: Int = 3) throws -> Sequential {
        try Sequential(spec: ModelSpec(inputShape: [inputs], layers: [LayerSpec(.dense, name: "features.0", units: hidden),
                                                                      LayerSpec(.relu, name: "features.1"),
                                                                      LayerSpec(.dense, name: "head", units: classes)]), seed: seed)
    }

    private func data(_ n: Int, inputs: Int = 6, classes: Int = 3, scale: Float, seed: UInt64) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        return LabelledData(inputs: Tensor(shape: [n, inputs], data: (0..<(n * inputs)).map { _ in rng.normal() * scale }),
                            labels: (0..<n).map { $0 % classes })
    }

    private func flatGradient(_ model: Sequential) -> [Float] { model.trainableParameters.flatMap(\.grad.data) }

    private func norm(_ v: [Float]) -> Double { v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// Every example's clipped gradient has norm ≤ C exactly (double-precision norm), a
    /// gradient already within C is untouched, and a sum of k clipped gradients is within k·C.
    /// Reference gradients come from a plain batch-of-one backward pass.
    func testPerExampleClippingBoundsEveryExampleExactly() throws {
        let model = try mlp(seed: 1)
        let big = data(12, scale: 40, seed: 2)
        let dp = DPSGD(clipNorm: 0.5, noiseMultiplier: 0)
        var clippedSome = false
        for i in 0..<big.count {
            let one = big.subset([i])
            let (sum, norms, _) = try dp.clippedGradientSum(model: model, examples: one)
            model.zeroGrad()
            let logits = model.forward(one.inputs, mode: .evaluation)
            model.backward(Loss.softmaxCrossEntropy(logits: logits, labels: one.labels).gradient)
            let reference = flatGradient(model)
            XCTAssertEqual(norms[0], norm(reference), accuracy: 1e-6 * norm(reference), "the reported norm is the unclipped gradient's")
            XCTAssertLessThanOrEqual(norm(sum), 0.5, "example \(i): clipped to C")
            if norms[0] > 0.5 {
                clippedSome = true
                XCTAssertGreaterThan(norm(sum), 0.5 * (1 - 1e-5), "clipped to C, not below")
                let cosine = zip(sum, reference).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / (norm(sum) * norm(reference))
                XCTAssertEqual(cosine, 1, accuracy: 1e-5, "clipping keeps the direction")
            } else {
                XCTAssertEqual(sum, reference)
            }
        }
        XCTAssertTrue(clippedSome, "the test has gradients above C")
        let (sum, norms, _) = try dp.clippedGradientSum(model: model, examples: big)
        XCTAssertEqual(norms.count, 12)
        XCTAssertLessThanOrEqual(norm(sum), 12 * 0.5)
        let loose = DPSGD(clipNorm: 1e9, noiseMultiplier: 0)
        let small = data(5, scale: 0.1, seed: 3)
        let (unclipped, _, _) = try loose.clippedGradientSum(model: model, examples: small)
        model.zeroGrad()
        model.backward(Loss.softmaxCrossEntropy(logits: model.forward(small.inputs, mode: .evaluation), labels: small.labels).gradient)
        for (a, b) in zip(unclipped, flatGradient(model)) { XCTAssertEqual(a, b * 5, accuracy: 1e-5 * max(1, abs(b * 5)), "sum of per-example gradients = N × batch-mean gradient") }
    }

    /// With every example sampled (q = 1), no clipping and no noise, a DP-SGD step is the SGD
    /// step on the batch-mean gradient that `Trainer.step` takes.
    /// A model whose outputs do not fit the site's data (as a coordinator could send) is a
    /// typed error naming the mismatch, before any example is reshaped against it: a 3-output
    /// model with one regression target per row, and labels beyond a 2-class head.
    func testDataThatDoesNotFitTheModelIsAnErrorNotATrap() throws {
        let model = try mlp(seed: 9)
        let inputs = data(8, scale: 1, seed: 10).inputs
        let regression = LabelledData(inputs: inputs, targets: Tensor(shape: [8, 1], data: (0..<8).map(Float.init)))
        var noise = GaussianNoise.seeded(1)
        let dp = DPSGD(clipNorm: 1, noiseMultiplier: 0)
        XCTAssertThrowsError(try dp.train(model: model, optimizer: SGD(groups: []), data: regression, steps: 1, sampleRate: 1,
                                          noise: &noise, random: CryptoRandom(seed: 3))) { error in
            XCTAssertTrue(error is TrainingError, "\(error)")
            XCTAssertTrue("\(error)".contains("1 regression target(s) per sample"), "\(error)")
        }
        let twoClasses = try mlp(seed: 9, classes: 2)
        XCTAssertThrowsError(try dp.train(model: twoClasses, optimizer: SGD(groups: []), data: data(8, scale: 1, seed: 10), steps: 1,
                                          sampleRate: 1, noise: &noise, random: CryptoRandom(seed: 3))) { error in
            XCTAssertTrue(error is TrainingError, "\(error)")
        }
    }

    func testWithoutClippingOrNoiseAStepIsPlainSGD() throws {
        let train = data(20, scale: 1, seed: 4)
        let a = try mlp(seed: 5), b = try mlp(seed: 5)
        let optA = SGD(groups: [ParameterGroup(parameters: a.parameters, learningRate: 0.1)])
        var noise = GaussianNoise.seeded(1)
        let report = try DPSGD(clipNorm: 1e9, noiseMultiplier: 0).train(model: a, optimizer: optA, data: train, steps: 1, sampleRate: 1,
                                                                       noise: &noise, random: CryptoRandom(seed: 2))
        XCTAssertEqual(report.examples, 20)
        XCTAssertEqual(report.clippedFraction, 0)
        let trainer = Trainer(model: b, optimizer: SGD(groups: [ParameterGroup(parameters: b.parameters, learningRate: 0.1)]),
                              config: TrainingConfig(epochs: 1, batchSize: 20))
        _ = try trainer.step(train)
        for (pa, pb) in zip(a.parameters, b.parameters) {
            for (x, y) in zip(pa.value.data, pb.value.data) { XCTAssertEqual(x, y, accuracy: 1e-6, pa.name) }
        }
    }

    /// With BatchNorm, DP-SGD's forward passes run in evaluation mode on the statistics the
    /// model holds, so examples do not mix: the gradient of a whole batch in evaluation mode is
    /// the sum of the examples' own gradients (what DP-SGD clips one by one), unlike a
    /// training-mode pass whose batch statistics tie every example to the others; and training
    /// leaves the running statistics exactly as received (they are neither re-estimated nor sent).
    func testWithBatchNormExamplesDoNotMixAndTheRunningStatisticsStay() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [6], layers: [LayerSpec(.dense, name: "features.0", units: 16),
                                                                            LayerSpec(.batchnorm1d, name: "features.1"),
                                                                            LayerSpec(.relu, name: "features.2"),
                                                                            LayerSpec(.dense, name: "head", units: 3)]), seed: 12)
        let batch = data(10, scale: 2, seed: 13)
        _ = model.forward(batch.inputs, mode: .training)   // running statistics away from 0 and 1
        let statistics = model.stateDict().filter { $0.name.contains("running") }
        XCTAssertEqual(statistics.count, 2)
        XCTAssertTrue(statistics.allSatisfy { s in s.value.data.contains { $0 != 0 && $0 != 1 } }, "the statistics are not the defaults")
        func batchGradient(_ mode: ForwardMode) -> [Float] {
            model.zeroGrad()
            let logits = model.forward(batch.inputs, mode: mode)
            model.backward(Loss.softmaxCrossEntropy(logits: logits, labels: batch.labels).gradient)
            return flatGradient(model).map { $0 * 10 }   // the mean loss's gradient × N = the sum over examples
        }
        let (sum, norms, _) = try DPSGD(clipNorm: 1e9, noiseMultiplier: 0).clippedGradientSum(model: model, examples: batch)
        XCTAssertEqual(norms.count, 10)
        let evaluation = batchGradient(.evaluation)
        for (a, b) in zip(sum, evaluation) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "evaluation mode: the batch gradient is the examples' sum") }
        let bn = try XCTUnwrap(model.layer(named: "features.1") as? BatchNorm)
        bn.updatesRunningStatistics = false
        let training = batchGradient(.training)
        bn.updatesRunningStatistics = true
        let gap = zip(sum, training).map { Double(abs($0 - $1)) }.max() ?? 0
        XCTAssertGreaterThan(gap, 1e-2, "batch statistics would mix the examples (the test would notice a training-mode DP-SGD)")
        let before = model.stateDict().filter { !$0.name.contains("running") }
        var noise = GaussianNoise.seeded(8)
        let report = try DPSGD(clipNorm: 1, noiseMultiplier: 1).train(model: model, optimizer: SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.05)]),
                                                                     data: batch, steps: 5, sampleRate: 0.5, noise: &noise, random: CryptoRandom(seed: 9))
        XCTAssertGreaterThan(report.examples, 0)
        for (name, value) in model.stateDict() where name.contains("running") {
            XCTAssertEqual(value, statistics.first { $0.name == name }?.value, "\(name) is as received")
        }
        XCTAssertTrue(zip(before, model.stateDict().filter { !$0.name.contains("running") }).contains { $0.value != $1.value }, "the weights trained")
    }

    /// The noise on a step's gradient sum has standard deviation σC: two runs from the same
    /// weights on the same (q = 1) batch, one without noise, differ by lr · N(0, (σC)²) / N per
    /// parameter. Over the 6 110 parameters of a 50-100-10 MLP the estimate's relative standard
    /// error is 1/√(2·6110) ≈ 0.9 %; the test allows 5 %, and a mean within 5 standard errors of 0.
    func testNoiseOnTheGradientSumHasTheStatedStandardDeviation() throws {
        let train = data(8, inputs: 50, classes: 10, scale: 1, seed: 6)
        let (sigma, c, lr, n) = (1.3, 0.7, Float(0.01), 8.0)
        func run(_ noiseMultiplier: Double) throws -> [Float] {
            let model = try mlp(seed: 7, inputs: 50, hidden: 100, classes: 10)
            let opt = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: lr)])
            var noise = GaussianNoise.seeded(11)
            _ = try DPSGD(clipNorm: c, noiseMultiplier: noiseMultiplier).train(model: model, optimizer: opt, data: train, steps: 1, sampleRate: 1,
                                                                             noise: &noise, random: CryptoRandom(seed: 3))
            return model.parameters.flatMap(\.value.data)
        }
        let plain = try run(0), noised = try run(sigma)
        XCTAssertEqual(plain.count, 50 * 100 + 100 + 100 * 10 + 10)
        let z = zip(noised, plain).map { Double($0 - $1) * n / Double(-lr) }
        let mean = z.reduce(0, +) / Double(z.count)
        let sd = (z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(z.count - 1)).squareRoot()
        XCTAssertEqual(sd / (sigma * c), 1, accuracy: 0.05, "sd \(sd), expected \(sigma * c)")
        XCTAssertEqual(mean, 0, accuracy: 5 * sigma * c / Double(z.count).squareRoot())
    }

    /// Poisson sampling draws each example with probability q: over 200 steps at q = 0.1 of 100
    /// examples, 2 000 draws are expected (standard deviation ≈ 42); the step count is
    /// epochs · round(1/q); the plan section is validated.
    func testPoissonSamplingRateStepsAndPlanSection() throws {
        XCTAssertEqual(DPSGD.sampleRate(batchSize: 16, count: 160), 0.1)
        XCTAssertEqual(DPSGD.sampleRate(batchSize: 64, count: 10), 1)
        XCTAssertEqual(DPSGD.steps(epochs: 2, sampleRate: 0.1), 20)
        XCTAssertEqual(DPSGD.steps(epochs: 1, sampleRate: 1), 1)
        let model = try mlp(seed: 8)
        var noise = GaussianNoise.seeded(4)
        let report = try DPSGD(clipNorm: 1, noiseMultiplier: 1).train(model: model, optimizer: SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)]),
                                                                     data: data(100, scale: 1, seed: 9), steps: 200, sampleRate: 0.1, noise: &noise, random: CryptoRandom(seed: 5))
        XCTAssertEqual(report.steps, 200)
        XCTAssertEqual(Double(report.examples), 2000, accuracy: 5 * (2000 * 0.9).squareRoot())
        let plan = try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"recordPrivacy":{"noiseMultiplier":1.1}}"#.utf8))
        XCTAssertEqual(plan.recordPrivacy, RecordPrivacyPlan(clipNorm: 1, noiseMultiplier: 1.1, delta: 1e-5))
        XCTAssertNoThrow(try plan.validate())
        XCTAssertThrowsError(try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"recordPrivacy":{"clipNorm":1}}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("recordPrivacy.noiseMultiplier is required"), "\($0)")
        }
        XCTAssertThrowsError(try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"recordPrivacy":{"noiseMultiplier":1,"clipNorm":-1}}"#.utf8)).validate()) {
            XCTAssertTrue("\($0)".contains("recordPrivacy.clipNorm must be positive"), "\($0)")
        }
    }
}
