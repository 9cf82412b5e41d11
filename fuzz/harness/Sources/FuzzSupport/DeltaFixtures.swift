import CohortCheckpoint
import CohortTensor

/// The model shapes the delta harnesses decode against, and real messages for their seeds.
public enum DeltaFixtures {
    /// Three tensors: a matrix, a bias, and a longer vector (so dense records come in pieces).
    public static let shapes: [String: [Int]] = ["w": [6, 5], "b": [5], "big": [40]]
    /// The largest accepted message and inflated body.
    public static let maxBytes = 1 << 16

    /// Messages encoded by `DeltaEncoder` in every codec configuration.
    public static func seeds() throws -> [(name: String, bytes: [UInt8])] {
        var state: UInt32 = 12345
        func next() -> Float {
            state = state &* 1_103_515_245 &+ 12345
            return Float(Int(state >> 16) % 2001 - 1000) / 997
        }
        let entries = ["w", "b", "big"].map { name in
            let shape = shapes[name]!
            return (name: name, value: Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in next() }))
        }
        let delta = try ModelDelta(entries)
        let configs: [(String, DeltaCodecConfig)] = [
            ("dense-f32", DeltaCodecConfig()),
            ("dense-f16", DeltaCodecConfig(quantization: .float16)),
            ("dense-int8", DeltaCodecConfig(quantization: .int8(blockSize: 4))),
            ("dense-zlib", DeltaCodecConfig(zlibLevel: 1)),
            ("topk-f32", DeltaCodecConfig(topKFraction: 0.3)),
            ("topk-int8-zlib", DeltaCodecConfig(topKFraction: 0.25, quantization: .int8(blockSize: 8), zlibLevel: 6)),
        ]
        var seeds: [(name: String, bytes: [UInt8])] = []
        for (name, config) in configs {
            seeds.append((name, try DeltaEncoder(config: config).encode(delta)))
        }
        // A delta of only some tensors (valid when not every tensor is required).
        let partial = try ModelDelta([entries[0]])
        seeds.append(("partial-f32", try DeltaEncoder(config: DeltaCodecConfig()).encode(partial)))
        return seeds
    }
}
