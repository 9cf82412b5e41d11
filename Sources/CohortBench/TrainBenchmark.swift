import CohortNN
import CohortTensor

/// `cohort bench train`: training throughput on the same cases as the PyTorch peer harness
/// (`shared/bench/peers/train_throughput.py`): forward, softmax cross-entropy, backward and an
/// SGD(lr 0.01, momentum 0.9) step on 8 random in-memory batches, cycled. `resnet18` and
/// `vit-tiny` are the presets at the harness's dimensions (3×64×64 input, batch 32, 10 classes;
/// ViT with 8×8 patches).
public enum TrainBenchmark {
    /// The cases, by name.
    public static let caseNames = ["mlp", "cnn", "tabular", "resnet18", "vit-tiny"]

    /// The model and batch size of a case.
    public static func model(for name: String) -> (spec: ModelSpec, batch: Int, classes: Int)? {
        switch name {
        case "mlp":
            return (ModelSpec(inputShape: [784], layers: [
                LayerSpec(.dense, name: "fc1", units: 256), LayerSpec(.relu, name: "relu1"),
                LayerSpec(.dense, name: "fc2", units: 128), LayerSpec(.relu, name: "relu2"),
                LayerSpec(.dense, name: "fc3", units: 10),
            ]), 64, 10)
        case "cnn":
            return (ModelSpec(inputShape: [28, 28, 1], layers: [
                LayerSpec(.conv2d, name: "conv1", units: 16, kernel: 3, padding: 1), LayerSpec(.relu, name: "relu1"),
                LayerSpec(.maxpool2d, name: "pool1", kernel: 2),
                LayerSpec(.conv2d, name: "conv2", units: 32, kernel: 3, padding: 1), LayerSpec(.relu, name: "relu2"),
                LayerSpec(.maxpool2d, name: "pool2", kernel: 2),
                LayerSpec(.flatten, name: "flatten"), LayerSpec(.dense, name: "fc", units: 10),
            ]), 64, 10)
        case "tabular":
            return (ModelSpec(inputShape: [13], layers: [
                LayerSpec(.dense, name: "fc1", units: 32), LayerSpec(.relu, name: "relu1"),
                LayerSpec(.dense, name: "fc2", units: 2),
            ]), 16, 2)
        case "resnet18":
            return (try? ModelPreset.resnet18.spec(PresetOptions(classes: 10, inputShape: [64, 64, 3]))).map { ($0, 32, 10) }
        case "vit-tiny":
            var options = PresetOptions(classes: 10, inputShape: [64, 64, 3])
            options.patchSize = 8
            options.attentionLayout = "torch"   // the harness uses nn.MultiheadAttention
            return (try? ModelPreset.vitTiny.spec(options)).map { ($0, 32, 10) }
        default:
            return nil
        }
    }

    /// One case's result.
    public struct CaseResult: Codable, Sendable {
        public var batch: Int
        public var params: Int
        public var samplesPerSecond: BenchTiming.Summary
        public var stepMicrosecondsMedian: Double
        public var finalLoss: Float
    }

    /// The result for one thread count.
    public struct Report: Codable, Sendable {
        public var threads: Int
        public var secondsPerRepeat: Double
        public var repeats: Int
        public var cases: [String: CaseResult]
    }

    /// Measures every case in `cases`: `repeats` timed runs of at least `seconds` after warm-up.
    /// With `inference`, only eval-mode forward passes are timed (no loss, backward or step).
    public static func run(cases: [String], threads: Int, seconds: Double, repeats: Int, warmup: Double = 1,
                           inference: Bool = false, progress: (String) -> Void = { _ in }) throws -> Report {
        let saved = Gemm.parallelThreshold
        if threads <= 1 { Gemm.parallelThreshold = Int.max }
        defer { Gemm.parallelThreshold = saved }
        var results: [String: CaseResult] = [:]
        for name in cases {
            guard let (spec, batch, classes) = model(for: name) else {
                throw ModelSpecError("unknown benchmark case '\(name)' (known: \(caseNames.joined(separator: ", ")))")
            }
            let model = try Sequential(spec: spec, seed: 0)
            var rng = SeededRandom(seed: 0)
            let per = spec.inputShape.reduce(1, *)
            let xs = (0..<8).map { _ in Tensor(shape: [batch] + spec.inputShape, data: (0..<(batch * per)).map { _ in rng.normal() }) }
            let ys = (0..<8).map { _ in (0..<batch).map { _ in rng.int(below: classes) } }
            let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)], momentum: 0.9)
            var stepIndex = 0
            var lastLoss: Float = 0
            let step = {
                let i = stepIndex % 8
                if inference {
                    lastLoss = model.forward(xs[i], mode: .inference).data[0]
                    stepIndex += 1
                    return
                }
                optimizer.zeroGrad()
                let out = model.forward(xs[i], mode: .training)
                let loss = Loss.softmaxCrossEntropy(logits: out, labels: ys[i])
                model.backward(loss.gradient)
                optimizer.step()
                lastLoss = loss.value
                stepIndex += 1
            }
            // Real backbones take a large fraction of a second per step: fewer minimum iterations.
            let heavy = model.parameterCount > 1_000_000
            _ = BenchTiming.rate(seconds: warmup, minIterations: heavy ? 2 : 20, step)
            let cpu0 = BenchTiming.processCPUSeconds(), steps0 = stepIndex
            let rates = (0..<repeats).map { _ in BenchTiming.rate(seconds: seconds, minIterations: heavy ? 3 : 10, step) * Double(batch) }
            let summary = BenchTiming.Summary(rates)
            // CPU time per step (all threads) is steadier than wall time on a shared machine.
            let cpuPerStep = (BenchTiming.processCPUSeconds() - cpu0) / Double(max(1, stepIndex - steps0)) * 1000
            progress("\(inference ? "inference" : "train") \(name) threads=\(threads): \(Int(summary.median)) samples/s (median of \(repeats)), "
                     + "process CPU \(String(format: "%.1f", cpuPerStep)) ms/step")
            results[name] = CaseResult(batch: batch, params: model.parameterCount, samplesPerSecond: summary,
                                       stepMicrosecondsMedian: Double(batch) / summary.median * 1e6, finalLoss: lastLoss)
        }
        return Report(threads: threads, secondsPerRepeat: seconds, repeats: repeats, cases: results)
    }
}
