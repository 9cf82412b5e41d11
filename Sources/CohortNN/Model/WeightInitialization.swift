import CohortTensor

/// How a newly built model fills its weight tensors.
public enum WeightInitialization: Sendable, Equatable {
    /// Seeded random values, as each layer documents (PyTorch's schemes): the default.
    case seeded
    /// Zeros, without drawing a value, for a model whose every weight is about to be
    /// overwritten (a federated node's model before the global weights are decoded into it,
    /// which checks that every tensor arrived). Only the large draws are skipped (dense,
    /// linear, conv2d and attention weights and biases); small tensors (class token, position
    /// embedding, normalisation layers, LoRA factors) and each layer's own generator (dropout)
    /// are made exactly as with `.seeded`.
    case zeros
    /// Storage allocated but not written (a large allocation's pages are not even touched
    /// until written): for a model whose every weight is replaced before anything reads it —
    /// a strict `load` right after (`copy()`), or a federated node's model that the MODEL is
    /// decoded into, which is discarded if the MODEL fails. The values are undefined until
    /// then. The same draws are skipped as with `.zeros`.
    case unfilled

    /// `count` values uniform in [low, high) drawn from `rng` (`.seeded`), or zeros with `rng` untouched.
    func uniform(count: Int, _ low: Float, _ high: Float, rng: inout SeededRandom) -> [Float] {
        switch self {
        case .seeded: return rng.uniformArray(count: count, low, high)
        case .zeros: return [Float](repeating: 0, count: max(0, count))
        case .unfilled: return .uninitialized(count: max(0, count))
        }
    }
}
