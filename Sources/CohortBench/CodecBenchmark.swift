import CohortCheckpoint
import CohortNN
import CohortTensor

/// `cohort bench codec`: bytes on the wire, speed and error of each delta codec chain on a
/// realistic delta — a ~10M-parameter MLP (784 → h → 3h/8 → 10, ReLU) fine-tuned for one epoch
/// with SGD on seeded synthetic data, delta = after − before.
///
/// Encode and decode speeds are MB/s of float32 input (4 bytes per parameter) on one thread,
/// the median of `repeats` timed runs; the ratio is against raw float32 (what Flower sends).
public enum CodecBenchmark {
    /// The chains measured, in order.
    public static let chains: [DeltaCodecConfig] = [
        DeltaCodecConfig(),
        DeltaCodecConfig(quantization: .float16),
        DeltaCodecConfig(quantization: .int8(blockSize: 256)),
        DeltaCodecConfig(topKFraction: 0.01),
        DeltaCodecConfig(topKFraction: 0.01, quantization: .int8(blockSize: 256)),
        DeltaCodecConfig(topKFraction: 0.01, quantization: .int8(blockSize: 256), zlibLevel: 1),
        DeltaCodecConfig(topKFraction: 0.01, quantization: .float16, zlibLevel: 1),
        DeltaCodecConfig(topKFraction: 0.1, quantization: .int8(blockSize: 256), zlibLevel: 1),
    ]

    /// One chain's result.
    public struct ChainResult: Codable, Sendable {
        public var chain: String
        public var config: DeltaCodecConfig
        public var bytes: Int
        /// Raw float32 bytes ÷ encoded bytes.
        public var ratioVsFloat32: Double
        /// MB/s of float32 input, without error feedback.
        public var encodeMBps: BenchTiming.Summary
        /// MB/s of float32 input, with error feedback (residual added and updated).
        public var encodeWithFeedbackMBps: BenchTiming.Summary
        /// MB/s of float32 output (the decoded delta), with every check.
        public var decodeMBps: BenchTiming.Summary
        /// ‖decoded − true‖ / ‖true‖ for one round without error feedback.
        public var relativeL2Error: Double
    }

    /// The whole report.
    public struct Report: Codable, Sendable {
        public var params: Int
        public var layers: [Int]
        public var trainSamples: Int
        public var trainSeconds: Double
        public var trainLoss: Float
        public var deltaL2Norm: Double
        public var rawFloat32Bytes: Int
        public var secondsPerRepeat: Double
        public var repeats: Int
        public var chains: [ChainResult]
    }

    /// Hidden widths (h, 3h/8, multiples of 16) whose MLP 784 → h → 3h/8 → 10 has the
    /// parameter count closest to `params`.
    public static func widths(params target: Int) -> (hidden1: Int, hidden2: Int) {
        func count(_ h: Int) -> Int { let h2 = max(16, (3 * h / 8 + 8) / 16 * 16); return 784 * h + h + h * h2 + h2 + h2 * 10 + 10 }
        var h = 16
        while count(h + 16) <= target { h += 16 }
        if abs(count(h + 16) - target) < abs(count(h) - target) { h += 16 }
        return (h, max(16, (3 * h / 8 + 8) / 16 * 16))
    }

    /// The realistic delta: the MLP fine-tuned for one epoch (SGD lr 0.01, momentum 0.9,
    /// batch 64) on `samples` seeded class-conditional Gaussian samples; returns after − before.
    public static func fineTuneDelta(params: Int, samples: Int = 2048, seed: UInt64 = 0,
                                     progress: (String) -> Void = { _ in }) throws -> (delta: ModelDelta, layers: [Int], seconds: Double, loss: Float) {
        let (h1, h2) = widths(params: params)
        let spec = ModelSpec(inputShape: [784], layers: [
            LayerSpec(.dense, name: "fc1", units: h1), LayerSpec(.relu, name: "relu1"),
            LayerSpec(.dense, name: "fc2", units: h2), LayerSpec(.relu, name: "relu2"),
            LayerSpec(.dense, name: "fc3", units: 10),
        ])
        let model = try Sequential(spec: spec, seed: seed)
        let before = model.stateDict()
        var rng = SeededRandom(seed: seed &+ 1)
        let means = (0..<10).map { _ in (0..<784).map { _ in rng.normal() * 0.5 } }
        var inputs = [Float](repeating: 0, count: samples * 784)
        var labels = [Int](repeating: 0, count: samples)
        for i in 0..<samples {
            let c = rng.int(below: 10)
            labels[i] = c
            for j in 0..<784 { inputs[i * 784 + j] = means[c][j] + rng.normal() }
        }
        let data = LabelledData(inputs: Tensor(shape: [samples, 784], data: inputs), labels: labels)
        let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)], momentum: 0.9)
        let trainer = Trainer(model: model, optimizer: optimizer, config: TrainingConfig(epochs: 1, batchSize: 64, seed: seed))
        let start = BenchTiming.now()
        let history = try trainer.fit(data)
        let seconds = BenchTiming.now() - start
        progress("fine-tuned \(model.parameterCount) parameters (784-\(h1)-\(h2)-10) on \(samples) samples in \(String(format: "%.1f", seconds)) s, loss \(history.epochs.last!.trainLoss)")
        let delta = try ModelDelta(local: model.stateDict(), global: before, trainable: ModelDelta.trainableNames(of: model))
        return (delta, [784, h1, h2, 10], seconds, history.epochs.last!.trainLoss)
    }

    /// Runs every chain on the fine-tuning delta of an MLP with about `params` parameters.
    public static func run(params: Int, seconds: Double, repeats: Int, progress: (String) -> Void = { _ in }) throws -> Report {
        let (delta, layers, trainSeconds, loss) = try fineTuneDelta(params: params, progress: progress)
        let count = delta.parameterCount
        let megabytes = Double(4 * count) / 1e6
        let decoder = DeltaDecoder(expectedShapes: delta.shapes, maxBytes: 4 * count + (1 << 20))
        let trueNorm = delta.l2Norm
        var results: [ChainResult] = []
        for config in chains {
            let encoder = try DeltaEncoder(config: config)
            let bytes = try encoder.encode(delta)
            let decoded = try decoder.decode(bytes)
            var errorSquared = 0.0
            for name in delta.names {
                for (a, b) in zip(decoded[name]!.data, delta[name]!.data) { errorSquared += (Double(a) - Double(b)) * (Double(a) - Double(b)) }
            }
            var sink = 0
            let encodeRates = (0..<repeats).map { _ in
                BenchTiming.rate(seconds: seconds, minIterations: 3) { sink &+= (try? encoder.encode(delta).count) ?? 0 } * megabytes
            }
            var feedback = ErrorFeedback()
            let feedbackRates = (0..<repeats).map { _ in
                BenchTiming.rate(seconds: seconds, minIterations: 3) { sink &+= (try? encoder.encode(delta, feedback: &feedback).count) ?? 0 } * megabytes
            }
            let decodeRates = (0..<repeats).map { _ in
                BenchTiming.rate(seconds: seconds, minIterations: 3) { sink &+= (try? decoder.decode(bytes).count) ?? 0 } * megabytes
            }
            precondition(sink > 0, "the codec benchmark's work was optimised away")
            let result = ChainResult(chain: config.label, config: config, bytes: bytes.count,
                                     ratioVsFloat32: Double(4 * count) / Double(bytes.count),
                                     encodeMBps: BenchTiming.Summary(encodeRates), encodeWithFeedbackMBps: BenchTiming.Summary(feedbackRates),
                                     decodeMBps: BenchTiming.Summary(decodeRates), relativeL2Error: errorSquared.squareRoot() / trueNorm)
            progress("codec \(result.chain): \(result.bytes) bytes (\(String(format: "%.1f", result.ratioVsFloat32))x), encode \(Int(result.encodeMBps.median)) MB/s, decode \(Int(result.decodeMBps.median)) MB/s")
            results.append(result)
        }
        return Report(params: count, layers: layers, trainSamples: 2048, trainSeconds: trainSeconds, trainLoss: loss,
                      deltaL2Norm: trueNorm, rawFloat32Bytes: 4 * count, secondsPerRepeat: seconds, repeats: repeats, chains: results)
    }
}
