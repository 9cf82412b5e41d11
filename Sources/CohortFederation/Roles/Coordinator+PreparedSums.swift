import CohortNN

extension Coordinator {
    /// The large tensors (1 MiB or more) the plan's nodes train and send, by element count,
    /// when they total 64 MiB or more: the sums `WeightedDeltaSum.prepare` makes ahead of the
    /// round's first UPDATE. Nil for a small model, under LoRA (its large base weights are
    /// frozen; which factors train is known only with the model object), and under secure
    /// aggregation (its rounds sum the masked inputs instead).
    func preparedSumCounts() -> [String: Int]? {
        guard architecture.lora == nil, plan.secureAggregation == nil else { return nil }
        let prefixes = plan.trainablePrefixes
        // FedPer / FedRep's personal tensors are never sent.
        let personal = plan.personalization.map { $0.keepsLayersPersonal ? $0.personalPrefixes : [] } ?? []
        var counts: [String: Int] = [:]
        for (name, value) in global where value.count >= 1 << 18
            && (prefixes.map { $0.contains { Sequential.name(name, hasPrefix: $0) } } ?? true)
            && !personal.contains(where: { Sequential.name(name, hasPrefix: $0) }) {
            counts[name] = value.count
        }
        return counts.values.reduce(0, +) >= 1 << 24 ? counts : nil
    }

    /// Starts making the next round's FedAvg sum (`WeightedDeltaSum.prepare`) when the
    /// strategy folds into one and the model is large; a sum already being made is kept.
    func prepareNextSum() {
        guard let sum = strategy.recordFolding as? WeightedDeltaSum, let counts = preparedSumCounts() else { return }
        sum.prepare(counts: counts)
    }
}
