import CohortTensor

/// Builds layers (graph nodes) from their descriptions, inferring input sizes from the input
/// nodes' shapes. Every field is validated by `LayerCheck` before anything is allocated.
public enum LayerFactory {
    /// Builds the layer for `spec` given the per-sample input shape; initial weights come from `rng`.
    public static func make(_ spec: LayerSpec, inputShape: [Int], rng: inout SeededRandom) throws -> Layer {
        try make(spec, inputShapes: [inputShape], rng: &rng)
    }

    /// Builds the node for `spec` reading inputs of the given per-sample shapes; its weights
    /// as `initialization` says.
    public static func make(_ spec: LayerSpec, inputShapes: [[Int]], budget: ModelBudget = .standard,
                            rng: inout SeededRandom, initialization: WeightInitialization = .seeded) throws -> Layer {
        let checked = try LayerCheck.check(spec, inputShapes: inputShapes, budget: budget)
        let shape = inputShapes[0]
        switch spec.kind {
        case .dense:
            return Dense(spec: spec, inputs: shape.reduce(1, *), rng: &rng, initialization: initialization)
        case .conv2d:
            return try Conv2D(spec: spec, inChannels: shape[2], rng: &rng, initialization: initialization)
        case .maxpool2d, .avgpool2d:
            return try Pool2D(spec: spec)
        case .globalavgpool:
            return GlobalAvgPool(spec: spec)
        case .batchnorm1d, .batchnorm2d:
            return BatchNorm(spec: spec, features: shape[shape.count - 1])
        case .dropout:
            return Dropout(spec: spec, rng: rng.derived(stream: UInt64(truncatingIfNeeded: spec.name.hashValueStable)))
        case .relu, .leakyrelu, .gelu, .relu6, .silu, .sigmoid, .tanh, .hardswish:
            return Activation(spec: spec)
        case .softmax:
            return Softmax(spec: spec)
        case .linear:
            return Dense(spec: spec, inputs: shape[shape.count - 1], rng: &rng, initialization: initialization)
        case .layernorm:
            return LayerNorm(spec: spec, features: shape[shape.count - 1])
        case .groupnorm:
            return GroupNorm(spec: spec, channels: shape[2])
        case .attention:
            return MultiHeadAttention(spec: spec, features: shape[1], rng: &rng, initialization: initialization)
        case .clstoken:
            return ClassToken(spec: spec, features: shape[1], rng: &rng)
        case .posembed:
            return PositionEmbedding(spec: spec, tokens: shape[0], features: shape[1], rng: &rng)
        case .selecttoken:
            return SelectToken(spec: spec)
        case .droppath:
            return DropPath(spec: spec, rng: rng.derived(stream: UInt64(truncatingIfNeeded: spec.name.hashValueStable)))
        case .flatten:
            return Flatten(spec: spec)
        case .gradientreversal:
            return GradientReversal(spec: spec)
        case .add:
            return Add(spec: spec)
        case .concat:
            return Concat(spec: spec)
        case .identity:
            return Identity(spec: spec)
        case .reshape:
            return Reshape(spec: spec, outputShape: checked.outputShape)
        case .adaptiveavgpool:
            return try AdaptiveAvgPool(spec: spec)
        }
    }
}

extension String {
    /// FNV-1a hash: stable across runs, unlike `hashValue`.
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}
