import CohortAdapt
import CohortCheckpoint
import CohortNN
import CohortTensor

extension FederatedNode {
    /// Under top-k sparsification the coordinator receives only part of the trained weights,
    /// but BatchNorm running statistics measured under the fully trained ones: averaged into
    /// the global model they normalise weights they were not measured for (issue 15 point 5;
    /// compressed FedAvg swung between 19% and 86% accuracy from round to round). So the node
    /// encodes the delta once as it will go out (with a copy of its error-feedback state),
    /// decodes it, applies it to the global weights, re-estimates the statistics for those
    /// weights on its training inputs, and sends those statistics instead. The weights' part of
    /// the update is unchanged. Returns `delta` as is when it carries no statistics.
    func statisticsForSentWeights(_ delta: ModelDelta, global: [String: Tensor], model: Sequential, plan: TrainingPlan,
                                  feedback: ErrorFeedback) throws -> ModelDelta {
        let statistics = Set(model.layers.compactMap { $0 as? BatchNorm }.flatMap { $0.buffers.map(\.name) })
        guard config.train.count > 1, delta.names.contains(where: statistics.contains) else { return delta }
        var trial = feedback
        let bytes = try DeltaEncoder(config: plan.codec).encode(delta, feedback: &trial)
        let sent = try DeltaDecoder(expectedShapes: delta.shapes, maxBytes: Int.max, requireAllTensors: false).decode(bytes)
        var state = global
        for name in sent.names where !statistics.contains(name) {
            guard let g = global[name], let d = sent[name], g.shape == d.shape else { continue }
            state[name] = g + d
        }
        let probe = try model.copy()
        try probe.load(state, strict: false)
        AdaBN.adapt(probe, inputs: config.train.inputs)
        let measured = Dictionary(uniqueKeysWithValues: probe.stateDict().map { ($0.name, $0.value) })
        return try ModelDelta(delta.entries.map { entry in
            guard statistics.contains(entry.name), let m = measured[entry.name], let g = global[entry.name], m.shape == g.shape else { return entry }
            return (entry.name, m - g)
        })
    }
}
