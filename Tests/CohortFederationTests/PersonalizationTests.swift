import XCTest
import CohortAdapt
import CohortCheckpoint
@testable import CohortFederation
import CohortNN
import CohortTensor

/// The plan's personalisation at a node: Ditto's pull, FedAvg-FT's epoch choice on
/// validation, FedRep's personal tensors, the guard's personal candidate, and the statistics a
/// sparse update carries.
final class PersonalizationTests: XCTestCase {
    private func mlp(seed: UInt64, batchNorm: Bool = false) throws -> Sequential {
        var layers = [LayerSpec(.dense, name: "features.0", units: 6)]
        if batchNorm { layers.append(LayerSpec(.batchnorm1d, name: "features.1")) }
        layers += [LayerSpec(.gelu, name: "act"), LayerSpec(.dense, name: "head", units: 2)]
        return try Sequential(spec: ModelSpec(inputShape: [3], layers: layers), seed: seed)
    }

    /// Two separable blobs in 3 features (`flip`: the labels swapped).
    private func blobs(_ n: Int, seed: UInt64, flip: Bool = false) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        var x: [Float] = [], y: [Int] = []
        for i in 0..<n {
            let label = i % 2
            for _ in 0..<3 { x.append(Float(rng.normal()) * 0.5 + (label == 1 ? 1 : -1)) }
            y.append(flip ? 1 - label : label)
        }
        return LabelledData(inputs: Tensor(shape: [n, 3], data: x), labels: y)
    }

    private static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let diff = zip(a, b).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        let scale = max(a.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot(), b.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot(), 1e-6)
        return diff / scale
    }

    func testDittoPullGradientMatchesFiniteDifferencesOfLossPlusHalfLambdaDistance() throws {
        let lambda: Float = 0.8
        let global = try mlp(seed: 7)
        let personal = try global.copy()
        let pull = PersonalTraining.dittoPull(global: global, lambda: lambda)
        let reference = global.parameters.map(\.value.data)
        var rng = SeededRandom(seed: 11)
        for p in personal.parameters { for i in 0..<p.value.count { p.value.data[i] += 0.4 * Float(rng.normal()) } }
        // The pull's reference is the global model when the step began, not whatever it becomes.
        for p in global.parameters { for i in 0..<p.value.count { p.value.data[i] += 1 } }
        let batch = blobs(6, seed: 3)
        func objective() -> Double {
            let loss = Double(Loss.softmaxCrossEntropy(logits: personal.forward(batch.inputs, mode: .training), labels: batch.labels).value)
            var sq = 0.0
            for (p, w) in zip(personal.parameters, reference) { for i in 0..<w.count { sq += Double(p.value.data[i] - w[i]) * Double(p.value.data[i] - w[i]) } }
            return loss + 0.5 * Double(lambda) * sq
        }
        personal.zeroGrad()
        let loss = Loss.softmaxCrossEntropy(logits: personal.forward(batch.inputs, mode: .training), labels: batch.labels)
        personal.backward(loss.gradient)
        let lossOnly = personal.parameters.map(\.grad.data)
        pull.addGradient(to: personal.parameters)
        let h: Float = 1e-2
        for (k, p) in personal.parameters.enumerated() {
            var numeric = [Float](repeating: 0, count: p.value.count)
            for i in 0..<p.value.count {
                let saved = p.value.data[i]
                p.value.data[i] = saved + h; let plus = objective()
                p.value.data[i] = saved - h; let minus = objective()
                p.value.data[i] = saved
                numeric[i] = Float((plus - minus) / Double(2 * h))
            }
            XCTAssertLessThan(Self.relativeError(p.grad.data, numeric), 2e-2, p.name)
            XCTAssertGreaterThan(Self.relativeError(lossOnly[k], numeric), 0.05, "\(p.name): the pull matters in this check")
        }
    }

    func testDittoPersonalStepStaysCloserToTheGlobalModelAsLambdaGrows() throws {
        let global = try mlp(seed: 2)
        let train = blobs(64, seed: 5, flip: true)
        var plan = TrainingPlan()
        plan.batchSize = 16
        plan.learningRate = 0.1
        func distance(lambda: Float) throws -> Double {
            let personal = try global.copy()
            _ = try PersonalTraining.trainDitto(personal, global: global, train: train, lambda: lambda, epochs: 5, plan: plan, seed: 1)
            return zip(personal.parameters, global.parameters).reduce(0.0) { $0 + Double(($1.0.value - $1.1.value).squaredNorm()) }
        }
        let free = try distance(lambda: 0), pulled = try distance(lambda: 5)
        XCTAssertGreaterThan(free, 0.01)
        XCTAssertLessThan(pulled, free * 0.5, "λ = 5: \(pulled), λ = 0: \(free)")
    }

    func testFineTuningKeepsTheEpochThatScoresBestOnValidation() throws {
        var plan = TrainingPlan()
        plan.batchSize = 16
        let validation = blobs(40, seed: 9)
        // A model that already fits validation, fine-tuned on labels that contradict it: every
        // epoch of fine-tuning hurts on validation, so the choice is epoch 0 and nothing changes.
        let good = try mlp(seed: 1)
        _ = try Trainer(model: good, optimizer: SGD(groups: [ParameterGroup(parameters: good.parameters, learningRate: 0.1)], momentum: 0.9),
                        config: TrainingConfig(epochs: 10, batchSize: 16)).fit(blobs(80, seed: 4))
        let before = good.stateDict().map(\.value)
        let kept = try PersonalTraining.fineTune(good, train: blobs(80, seed: 6, flip: true), validation: validation, epochs: 4, learningRate: 0.2,
                                                 plan: plan, seed: 3)
        XCTAssertEqual(kept.epoch, 0)
        XCTAssertEqual(good.stateDict().map(\.value), before, "the model is as given")
        XCTAssertEqual(kept.validationAccuracy, Double(Inference.accuracy(good, validation)))
        // An untrained model fine-tuned on matching labels: a later epoch wins, and the model holds it.
        let fresh = try mlp(seed: 8)
        let start = Double(Inference.accuracy(fresh, validation))
        let tuned = try PersonalTraining.fineTune(fresh, train: blobs(80, seed: 6), validation: validation, epochs: 4, learningRate: 0.1, plan: plan, seed: 3)
        XCTAssertGreaterThan(tuned.epoch, 0)
        XCTAssertGreaterThan(tuned.validationAccuracy, start)
        XCTAssertEqual(tuned.validationAccuracy, Double(Inference.accuracy(fresh, validation)))
    }

    func testFedRepPersonalTensorsAreLocalAndNeverSent() throws {
        let model = try mlp(seed: 1, batchNorm: true)
        var plan = TrainingPlan()
        plan.personalization = PersonalizationPlan(method: "fedrep", personalPrefixes: ["head"])
        XCTAssertNoThrow(try plan.validate())
        XCTAssertEqual(plan.personalTensorNames(of: model), ["head.weight", "head.bias"])
        XCTAssertTrue(plan.localTensorNames(of: model).isSuperset(of: ["head.weight", "head.bias"]))
        let sent = plan.sentTensorNames(of: model)
        XCTAssertFalse(sent.contains { $0.hasPrefix("head") }, "\(sent)")
        XCTAssertTrue(sent.contains("features.0.weight"))
        // A prefix names whole layers, not any name that starts with the same letters.
        plan.personalization?.personalPrefixes = ["features"]
        XCTAssertEqual(plan.personalTensorNames(of: model).count, model.stateDict().count - 2)
        plan.personalization?.personalPrefixes = ["feat"]
        XCTAssertEqual(plan.personalTensorNames(of: model), [])
        // Ditto and FedAvg-FT send every tensor FedAvg sends.
        plan.personalization = PersonalizationPlan(method: "ditto")
        XCTAssertEqual(plan.sentTensorNames(of: model), TrainingPlan().sentTensorNames(of: model))
    }

    func testPlanDecodesAndRejectsBadPersonalization() throws {
        let plan = try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"personalization":{"method":"ditto","lambda":0.3}}"#.utf8))
        XCTAssertEqual(plan.personalization?.method, "ditto")
        XCTAssertEqual(plan.personalization?.lambda, 0.3)
        XCTAssertEqual(plan.personalization?.fineTuneEpochs, 5)
        let again = try JSONDecoder().decode(TrainingPlan.self, from: try JSONEncoder().encode(plan))
        XCTAssertEqual(again, plan)
        func rejects(_ json: String, _ fragment: String) {
            XCTAssertThrowsError(try JSONDecoder().decode(TrainingPlan.self, from: Data(json.utf8)).validate(), json) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)")
            }
        }
        rejects(#"{"personalization":{"method":"perfedavg"}}"#, "personalization.method")
        rejects(#"{"personalization":{"method":"fedrep"}}"#, "personalPrefixes")
        rejects(#"{"personalization":{"method":"ditto","personalPrefixes":["head"]}}"#, "personalPrefixes")
        rejects(#"{"personalization":{"method":"ditto","lambda":-1}}"#, "lambda")
        rejects(#"{"personalization":{"method":"fedavg-ft","fineTuneEpochs":0}}"#, "fineTuneEpochs")
        rejects(#"{"personalization":{"method":"ditto"},"recordPrivacy":{"noiseMultiplier":1,"clipNorm":1}}"#, "recordPrivacy")
    }

    func testGuardKeepsThePersonalModelWhenItScoresBestOnValidation() throws {
        let validation = blobs(40, seed: 9)
        let personal = try mlp(seed: 1)
        _ = try Trainer(model: personal, optimizer: SGD(groups: [ParameterGroup(parameters: personal.parameters, learningRate: 0.1)], momentum: 0.9),
                        config: TrainingConfig(epochs: 10, batchSize: 16)).fit(blobs(80, seed: 4))
        let incoming = try mlp(seed: 2), scratch = try mlp(seed: 3)
        let (kept, report) = NegativeTransferGuard.compare(validation: validation, incoming: incoming, adapted: nil, personal: personal, scratch: scratch)
        XCTAssertTrue(kept === personal)
        XCTAssertEqual(report.winner, .personal)
        XCTAssertEqual(report.personalScore, Inference.accuracy(personal, validation))
        XCTAssertGreaterThan(report.personalScore!, report.incomingScore)
        // Without a personal candidate the choice is as before.
        let (_, plain) = NegativeTransferGuard.compare(validation: validation, incoming: incoming, adapted: nil, scratch: scratch)
        XCTAssertNil(plain.personalScore)
        XCTAssertNotEqual(plain.winner, .personal)
    }

    /// Top-k sends part of the weights; the running statistics that go with them must be
    /// measured for the weights the coordinator receives, not for the fully trained ones.
    func testSparseUpdateCarriesStatisticsOfTheWeightsItSends() throws {
        let model = try mlp(seed: 4, batchNorm: true)
        let train = blobs(48, seed: 2)
        var config = TinyFederation.node("site", secret: TinyFederation.secret(0), port: 1)
        config.train = train
        let node = FederatedNode(config: config)
        let global = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.value) })
        // "Local training": every weight moves; statistics measured under the moved weights.
        var rng = SeededRandom(seed: 1)
        for p in model.parameters { for i in 0..<p.value.count { p.value.data[i] += Float(rng.normal()) } }
        AdaBN.adapt(model, inputs: train.inputs)
        let trained = model.stateDict()
        var plan = TrainingPlan()
        plan.codec = DeltaCodecConfig(topKFraction: 0.1)
        let delta = try ModelDelta(local: trained, global: global.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 },
                                   trainable: plan.sentTensorNames(of: model))
        let fixed = try node.statisticsForSentWeights(delta, global: global, model: model, plan: plan, feedback: ErrorFeedback())
        let statistics = ["features.1.running_mean", "features.1.running_var"]
        XCTAssertEqual(fixed.names, delta.names)
        for name in delta.names where !statistics.contains(name) { XCTAssertEqual(fixed[name], delta[name], name) }
        // What the coordinator will rebuild: global + the decoded sparse weights, then the sent statistics.
        var feedback = ErrorFeedback()
        let sent = try DeltaDecoder(expectedShapes: delta.shapes, maxBytes: Int.max, requireAllTensors: false)
            .decode(try DeltaEncoder(config: plan.codec).encode(delta, feedback: &feedback))
        var rebuilt = global
        for name in sent.names where !statistics.contains(name) { rebuilt[name] = global[name]! + sent[name]! }
        let probe = try model.copy()
        try probe.load(rebuilt)
        AdaBN.adapt(probe, inputs: train.inputs)
        let probeState = Dictionary(uniqueKeysWithValues: probe.stateDict().map { ($0.name, $0.value) })
        for name in statistics {
            let expected = probeState[name]! - global[name]!
            XCTAssertLessThan(Self.relativeError(fixed[name]!.data, expected.data), 1e-5, name)
            XCTAssertGreaterThan(Self.relativeError(delta[name]!.data, expected.data), 0.05, "\(name): the fully trained statistics differ")
        }
        // A dense codec: nothing to fix, the caller skips it; a delta without statistics is returned as is.
        let noStats = try ModelDelta(delta.entries.filter { !statistics.contains($0.name) })
        XCTAssertEqual(try node.statisticsForSentWeights(noStats, global: global, model: model, plan: plan, feedback: ErrorFeedback()), noStats)
    }
}
