import CohortNN
import Foundation

extension FederatedNode {
    /// Local training under `plan.recordPrivacy`: DP-SGD for the plan's local epochs at
    /// q = batch size / N, accounted with the node's own `RDPAccountant` across the rounds it has
    /// trained. Returns the mean loss and the metrics reporting the node's (ε, δ) for replace-one
    /// neighbours (`RDPAccountant.replaceOnePrivacySpent`).
    func trainPrivately(_ model: Sequential, optimizer: Optimizer, plan: TrainingPlan, record: RecordPrivacyPlan, prox: L2SP?) throws
        -> (loss: Double, accounting: [String: Double])
    {
        let q = DPSGD.sampleRate(batchSize: plan.batchSize, count: config.train.count)
        let steps = DPSGD.steps(epochs: plan.localEpochs, sampleRate: q)
        var noise = GaussianNoise.secure()
        let report = try DPSGD(clipNorm: record.clipNorm, noiseMultiplier: record.noiseMultiplier)
            .train(model: model, optimizer: optimizer, data: config.train, steps: steps, sampleRate: q, noise: &noise, random: .system(), prox: prox)
        recordAccountant.step(noiseMultiplier: record.noiseMultiplier, sampleRate: q, count: steps)
        // N is announced, so the neighbours are replace-one (privacy.md, "Record-level DP-SGD").
        let epsilon = recordAccountant.replaceOnePrivacySpent(delta: record.delta).epsilon
        return (report.meanLoss, ["record_epsilon": epsilon, "record_delta": record.delta, "record_noise_multiplier": record.noiseMultiplier,
                                  "record_sample_rate": q, "record_steps": Double(recordAccountant.history.reduce(0) { $0 + $1.count })])
    }
}
