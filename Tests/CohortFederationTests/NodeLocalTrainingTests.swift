import XCTest
@testable import CohortFederation
import CohortData
import CohortNN
import CohortTensor

/// One round of a node's local training (`FederatedNode.trainLocally`, the code behind every
/// UPDATE): BatchNorm models survive a trailing one-row batch, and FedProx's pull is the
/// per-step gradient μ(w − w_global) toward the received weights.
final class NodeLocalTrainingTests: XCTestCase {
    private func data(_ n: Int, seed: UInt64) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        return LabelledData(inputs: Tensor(shape: [n, 4], data: (0..<(4 * n)).map { _ in rng.normal() }),
                            labels: (0..<n).map { $0 % 3 == 0 ? 1 : 0 })
    }

    private func node(train: LabelledData) -> FederatedNode {
        FederatedNode(config: FederatedNode.Config(host: "127.0.0.1", port: 1, name: "site", secret: [UInt8](repeating: 1, count: 16),
                                                   tls: nil, train: train, validation: data(10, seed: 99)))
    }

    private func round(_ spec: ModelSpec, plan: TrainingPlan) throws -> (header: RoundMessages.ModelHeader, weights: [String: Tensor]) {
        let global = try Sequential(spec: spec, seed: 4)
        return (RoundMessages.ModelHeader(round: 1, modelVersion: 0, plan: plan, architecture: spec),
                Dictionary(uniqueKeysWithValues: global.stateDict().map { ($0.name, $0.value) }))
    }

    private let batchNormSpec = ModelSpec(inputShape: [4], layers: [
        LayerSpec(.dense, name: "fc", units: 6), LayerSpec(.batchnorm1d, name: "bn"), LayerSpec(.relu, name: "act"),
        LayerSpec(.dense, name: "head", units: 2),
    ])

    /// 161 rows at batch 32 used to end in a one-row batch and a precondition failure (SIGILL)
    /// inside BatchNorm, killing the node process.
    func testBatchNormNodeTrainsOn161RowsAtBatch32() throws {
        var plan = TrainingPlan()
        plan.batchSize = 32
        plan.localEpochs = 2
        let (header, weights) = try round(batchNormSpec, plan: plan)
        let update = try node(train: data(161, seed: 1)).trainLocally(header, weights: weights)
        XCTAssertTrue((try update.delta()).names.contains("bn.running_mean"))
        XCTAssertGreaterThan((try update.delta()).tensors["fc.weight"]!.squaredNorm(), 0, "the node trained")
        XCTAssertTrue((try update.delta()).tensors.values.allSatisfy { $0.isFinite })
        XCTAssertEqual(update.trained["train_loss"].map { $0.isFinite }, true)
    }

    func testBatchNormNodeWithOneTrainingRowThrowsNamingTheLayer() throws {
        let (header, weights) = try round(batchNormSpec, plan: TrainingPlan())
        XCTAssertThrowsError(try node(train: data(1, seed: 1)).trainLocally(header, weights: weights)) { error in
            XCTAssertEqual((error as? BatchStatisticsError)?.layer, "bn", "\(error)")
        }
    }

    /// The node's FedProx update equals a hand-written local round that adds μ(w − w_global) to
    /// the gradient before every SGD step, w_global fixed at the received weights.
    func testFedProxUpdateAddsMuTimesDistanceToReceivedWeightsEveryStep() throws {
        let spec = ModelSpec(inputShape: [4], layers: [LayerSpec(.dense, name: "fc", units: 6), LayerSpec(.relu, name: "act"),
                                                     LayerSpec(.dense, name: "head", units: 2)])
        let train = data(70, seed: 2)
        var plan = TrainingPlan()
        plan.strategy = "fedprox"; plan.proximalMu = 0.5; plan.localEpochs = 3; plan.batchSize = 16
        plan.learningRate = 0.1; plan.momentum = 0.9; plan.seed = 5
        let (header, weights) = try round(spec, plan: plan)
        let prox = try node(train: train).trainLocally(header, weights: weights).delta()

        // By hand: same data order, same optimizer, the pull written out.
        let model = try Sequential(spec: spec, seed: 0)
        try model.load(weights)
        let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: plan.learningRate)], momentum: plan.momentum)
        var rng: SeededRandom? = SeededRandom(seed: FederatedNode.trainingSeed(plan: plan, round: 1, secureAggregation: false))
        for _ in 0..<plan.localEpochs {
            for batch in train.trainingBatches(of: plan.batchSize, rng: &rng) {
                optimizer.zeroGrad()
                model.backward(Loss.softmaxCrossEntropy(logits: model.forward(batch.inputs, mode: .training), labels: batch.labels).gradient)
                for p in model.parameters {
                    let wg = weights[p.name]!.data
                    for i in 0..<wg.count { p.grad.data[i] += plan.proximalMu * (p.value.data[i] - wg[i]) }
                }
                optimizer.step()
            }
        }
        for p in model.parameters {
            let expected = p.value - weights[p.name]!
            let got = try XCTUnwrap(prox.tensors[p.name])
            for i in 0..<expected.count { XCTAssertEqual(got.data[i], expected.data[i], accuracy: 1e-5, p.name) }
        }

        // The pull shortened the step: FedAvg's update from the same start is longer.
        var fedavg = plan
        fedavg.strategy = "fedavg"; fedavg.proximalMu = 0
        let (plainHeader, _) = try round(spec, plan: fedavg)
        let plain = try node(train: train).trainLocally(plainHeader, weights: weights).delta()
        let proxNorm = prox.names.map { prox.tensors[$0]!.squaredNorm() }.reduce(0, +)
        let plainNorm = plain.names.map { plain.tensors[$0]!.squaredNorm() }.reduce(0, +)
        XCTAssertLessThan(proxNorm, 0.95 * plainNorm, "‖Δ_prox‖² \(proxNorm) vs ‖Δ_avg‖² \(plainNorm)")
    }

    /// A plan's weight decay reached `ParameterGroup`'s precondition unchecked: a negative or
    /// NaN value stopped the node process. It is now a plan error naming the field.
    func testPlanWithBadWeightDecayOrMuIsAnErrorNotACrash() throws {
        for (decay, mu) in [(Float(-1), Float(0)), (.nan, 0), (0, .infinity)] {
            var plan = TrainingPlan()
            plan.weightDecay = decay; plan.proximalMu = mu
            if mu > 0 { plan.strategy = "fedprox" }
            XCTAssertThrowsError(try plan.validate(), "weightDecay \(decay), μ \(mu)")
            let (header, weights) = try round(batchNormSpec, plan: plan)
            XCTAssertThrowsError(try node(train: data(20, seed: 1)).trainLocally(header, weights: weights)) {
                XCTAssertTrue($0 is AggregationError, "\($0)")
            }
        }
    }

    /// A test file is loaded on its own: with another column count than the model it reached
    /// `Sequential.forward`'s precondition when the node scored the received model.
    func testTestDataOfTheWrongWidthIsRefusedNamingIt() throws {
        var config = FederatedNode.Config(host: "127.0.0.1", port: 1, name: "site", secret: [UInt8](repeating: 1, count: 16),
                                          tls: nil, train: data(20, seed: 1), validation: data(10, seed: 2))
        config.test = LabelledData(inputs: Tensor(shape: [3, 5], repeating: 0), labels: [0, 1, 0])
        let (header, weights) = try round(batchNormSpec, plan: TrainingPlan())
        XCTAssertThrowsError(try FederatedNode(config: config).trainLocally(header, weights: weights)) { error in
            XCTAssertTrue(error is DataError, "\(error)")
            XCTAssertTrue("\(error)".contains("test data has 5 features"), "\(error)")
        }
    }
}
