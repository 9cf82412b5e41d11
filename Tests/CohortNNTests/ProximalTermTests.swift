import XCTest
import CohortNN
import CohortTensor

/// FedProx's proximal term μ/2·‖w − w_global‖² is `L2SP` with the global weights as reference:
/// its gradient must be μ(w − w_global) exactly, and added to the loss gradient it must match
/// finite differences of loss + μ/2‖w − w_global‖².
final class ProximalTermTests: XCTestCase {
    private func setup(mu: Float) throws -> (model: Sequential, prox: L2SP, global: [[Float]], batch: LabelledData) {
        // GELU rather than ReLU: smooth, so central differences are not spoiled by kinks.
        let model = try Sequential(spec: ModelSpec(inputShape: [3], layers: [
            LayerSpec(.dense, name: "fc", units: 5), LayerSpec(.gelu, name: "act"), LayerSpec(.dense, name: "head", units: 2),
        ]), seed: 7)
        let prox = L2SP(reference: model.parameters, alpha: mu)
        let global = model.parameters.map(\.value.data)
        // Move w away from w_global, as local training does.
        var rng = SeededRandom(seed: 11)
        for p in model.parameters { for i in 0..<p.value.count { p.value.data[i] += 0.4 * rng.normal() } }
        let batch = LabelledData(inputs: Tensor(shape: [6, 3], data: (0..<18).map { _ in rng.normal() }), labels: [0, 1, 1, 0, 1, 0])
        return (model, prox, global, batch)
    }

    func testGradientIsExactlyMuTimesDistanceToGlobal() throws {
        let mu: Float = 0.37
        let (model, prox, global, _) = try setup(mu: mu)
        model.zeroGrad()
        let penalty = prox.addGradient(to: model.parameters)
        var expectedPenalty = 0.0
        for (p, wg) in zip(model.parameters, global) {
            let expected = zip(p.value.data, wg).map { mu * ($0 - $1) }
            XCTAssertEqual(p.grad.data, expected, "\(p.name): gradient must be μ(w − w_global)")
            expectedPenalty += zip(p.value.data, wg).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        }
        XCTAssertEqual(Double(penalty), 0.5 * Double(mu) * expectedPenalty, accuracy: 1e-4 * expectedPenalty)
        XCTAssertGreaterThan(expectedPenalty, 0.1, "the test moved w away from w_global")
        // Frozen parameters get no pull, and the reference never follows the weights.
        model.parameters[0].isTrainable = false
        model.zeroGrad()
        prox.addGradient(to: model.parameters)
        XCTAssertEqual(model.parameters[0].grad.squaredNorm(), 0)
        model.parameters[1].value.data[0] += 1
        model.zeroGrad()
        prox.addGradient(to: model.parameters)
        XCTAssertEqual(model.parameters[1].grad.data[0], mu * (model.parameters[1].value.data[0] - global[1][0]))
    }

    func testLossPlusProximalGradientMatchesFiniteDifferences() throws {
        let mu: Float = 0.5
        let (model, prox, global, batch) = try setup(mu: mu)
        func objective() -> Double {
            let loss = Double(Loss.softmaxCrossEntropy(logits: model.forward(batch.inputs, mode: .training), labels: batch.labels).value)
            var sq = 0.0
            for (p, wg) in zip(model.parameters, global) { for i in 0..<wg.count { sq += Double(p.value.data[i] - wg[i]) * Double(p.value.data[i] - wg[i]) } }
            return loss + 0.5 * Double(mu) * sq
        }
        model.zeroGrad()
        let loss = Loss.softmaxCrossEntropy(logits: model.forward(batch.inputs, mode: .training), labels: batch.labels)
        model.backward(loss.gradient)
        let lossOnly = model.parameters.map(\.grad.data)
        prox.addGradient(to: model.parameters)
        let h: Float = 1e-2
        for (k, p) in model.parameters.enumerated() {
            let analytic = p.grad.data
            var numeric = [Float](repeating: 0, count: p.value.count)
            for i in 0..<p.value.count {
                let saved = p.value.data[i]
                p.value.data[i] = saved + h; let plus = objective()
                p.value.data[i] = saved - h; let minus = objective()
                p.value.data[i] = saved
                numeric[i] = Float((plus - minus) / Double(2 * h))
            }
            XCTAssertLessThan(GradientCheck.relativeError(analytic, numeric), GradientCheck.bound, p.name)
            // The check has teeth: the loss gradient alone is far from the numeric gradient.
            XCTAssertGreaterThan(GradientCheck.relativeError(lossOnly[k], numeric), 0.05, "\(p.name): the proximal part matters here")
        }
    }

    /// The trainer adds the pull at every optimizer step (not once per epoch), before the step,
    /// with the reference fixed at the weights it was built from: a hand-written loop doing that
    /// lands on the same weights.
    func testTrainerAppliesTheProximalPullAtEveryStep() throws {
        let mu: Float = 0.3, lr: Float = 0.1
        let data = Synthetic.twoMoons(50, noise: 0.1, seed: 3)
        let a = try Sequential(spec: Synthetic.mlp(2, hidden: [8], classes: 2), seed: 5)
        let b = try Sequential(spec: Synthetic.mlp(2, hidden: [8], classes: 2), seed: 5)
        let global = b.parameters.map(\.value.data)
        let optA = SGD(groups: [ParameterGroup(parameters: a.parameters, learningRate: lr)], momentum: 0.9)
        _ = try Trainer(model: a, optimizer: optA, config: TrainingConfig(epochs: 3, batchSize: 16, seed: 9,
                                                                           l2sp: L2SP(reference: a.parameters, alpha: mu))).fit(data)
        let optB = SGD(groups: [ParameterGroup(parameters: b.parameters, learningRate: lr)], momentum: 0.9)
        var rng: SeededRandom? = SeededRandom(seed: 9)
        var steps = 0
        for _ in 0..<3 {
            for batch in data.trainingBatches(of: 16, rng: &rng) {
                optB.zeroGrad()
                let loss = Loss.softmaxCrossEntropy(logits: b.forward(batch.inputs, mode: .training), labels: batch.labels)
                b.backward(loss.gradient)
                for (p, wg) in zip(b.parameters, global) { for i in 0..<wg.count { p.grad.data[i] += mu * (p.value.data[i] - wg[i]) } }
                optB.step()
                steps += 1
            }
        }
        XCTAssertEqual(steps, 12, "50 rows at batch 16: 16, 16, 16, 2, for 3 epochs")
        for (pa, pb) in zip(a.parameters, b.parameters) {
            for i in 0..<pa.value.count { XCTAssertEqual(pa.value.data[i], pb.value.data[i], accuracy: 1e-5, pa.name) }
        }
        // Without the pull the weights end elsewhere: the comparison above can fail.
        let c = try Sequential(spec: Synthetic.mlp(2, hidden: [8], classes: 2), seed: 5)
        _ = try Trainer(model: c, optimizer: SGD(groups: [ParameterGroup(parameters: c.parameters, learningRate: lr)], momentum: 0.9),
                        config: TrainingConfig(epochs: 3, batchSize: 16, seed: 9)).fit(data)
        let gap = zip(a.parameters, c.parameters).map { ($0.value - $1.value).squaredNorm() }.reduce(0, +)
        XCTAssertGreaterThan(gap, 1e-4)
    }

    /// Issue 19: the gradient, formed block by block without a model-sized `w − w⁰`, is the
    /// whole-tensor formula's bit for bit (a tensor of more than one block with a ragged end);
    /// the reference given as tensors is held, not copied.
    func testBlockwiseGradientIsTheWholeTensorFormulaBitForBit() {
        let n = L2SP.blockForTests * 2 + 13
        var rng = SeededRandom(seed: 5)
        let global = Tensor(shape: [n], data: (0..<n).map { _ in rng.normal() })
        let p = Parameter(name: "w", value: Tensor(shape: [n], data: global.data.map { $0 + 0.3 * rng.normal() }))
        p.grad = Tensor(shape: [n], data: (0..<n).map { _ in rng.normal() })
        let mu: Float = 0.013
        var expected = p.grad
        let diff = p.value - global
        expected.add(diff, scaledBy: mu)
        let prox = L2SP(reference: ["w": global], alpha: mu)
        let penalty = prox.addGradient(to: [p])
        XCTAssertEqual(p.grad.data.map(\.bitPattern), expected.data.map(\.bitPattern))
        XCTAssertEqual(penalty, 0.5 * mu * diff.squaredNorm())
    }
}
