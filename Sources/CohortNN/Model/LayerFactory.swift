import CohortTensor

/// Builds layers from their descriptions, inferring input sizes from the previous shape.
public enum LayerFactory {
    /// Builds the layer for `spec` given the per-sample input shape; initial weights come from `rng`.
    public static func make(_ spec: LayerSpec, inputShape: [Int], rng: inout SeededRandom) throws -> Layer {
        func require(_ value: Int?, _ field: String) throws -> Int {
            guard let value else { throw ModelSpecError.layer(spec, "missing field '\(field)'") }
            guard value > 0 else { throw ModelSpecError.layer(spec, "'\(field)' must be positive, got \(value)") }
            return value
        }
        func checkInputs(_ inferred: Int) throws {
            if let given = spec.inputs, given != inferred {
                throw ModelSpecError.layer(spec, "declares \(given) inputs but the previous layer gives \(inferred)")
            }
        }
        switch spec.kind {
        case .dense:
            _ = try require(spec.units, "units")
            let inferred = inputShape.reduce(1, *)
            try checkInputs(inferred)
            return Dense(spec: spec, inputs: inferred, rng: &rng)
        case .conv2d:
            _ = try require(spec.units, "units")
            guard inputShape.count == 3 else { throw ModelSpecError.layer(spec, "needs [height, width, channels] input, gets \(inputShape)") }
            try checkInputs(inputShape[2])
            return Conv2D(spec: spec, inChannels: inputShape[2], rng: &rng)
        case .maxpool2d, .avgpool2d:
            return Pool2D(spec: spec)
        case .globalavgpool:
            return GlobalAvgPool(spec: spec)
        case .batchnorm1d, .batchnorm2d:
            guard let c = inputShape.last else { throw ModelSpecError.layer(spec, "needs a non-empty input shape") }
            try checkInputs(c)
            return BatchNorm(spec: spec, features: c)
        case .dropout:
            return Dropout(spec: spec, rng: rng.derived(stream: UInt64(truncatingIfNeeded: spec.name.hashValueStable)))
        case .relu, .leakyrelu, .gelu:
            return Activation(spec: spec)
        case .flatten:
            return Flatten(spec: spec)
        case .gradientreversal:
            return GradientReversal(spec: spec)
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
