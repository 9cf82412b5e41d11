import CohortCheckpoint
import CohortFederation
import CohortTensor
import Foundation

/// `cohort bench aggregate`: streaming FedAvg throughput (GB/s of update input) for K updates of
/// P float32 parameters, and peak resident memory while folding them in one at a time.
public enum AggregationBenchmark {
    /// The measured figures.
    public struct Report: Codable, Sendable {
        public var bench = "aggregate_throughput"
        public var updates: Int
        public var parameters: Int
        public var tensors: Int
        public var inputBytesPerAggregation: Int
        public var millisecondsPerAggregation: BenchTiming.Summary
        public var gigabytesPerSecond: Double
        public var maxAbsErrorVsDouble: Double
        /// Peak RSS of this process over the run, in bytes, and as a multiple of one model.
        public var peakResidentBytes: Int
        public var peakResidentModels: Double
    }

    /// Peak memory of streaming aggregation: each update is made, folded and dropped, as a
    /// coordinator receives them; returns peak RSS in bytes and as a multiple of one model.
    public static func streamingMemory(updates: Int, parameters: Int, progress: (String) -> Void = { _ in }) throws -> (bytes: Int, models: Double, baselineBytes: Int) {
        let tensors = 10, per = parameters / tensors
        var before = rusage()
        getrusage(RUSAGE_SELF.rawValue, &before)
        let baseline = Int(before.ru_maxrss) * 1024
        let names = (0..<tensors).map { "layer\($0).weight" }
        let global = Dictionary(uniqueKeysWithValues: names.map { ($0, Tensor(shape: [per])) })
        let strategy = FedAvg()
        strategy.begin(round: 1, global: global)
        for k in 0..<updates {
            let delta = try ModelDelta(names.map { ($0, Tensor(shape: [per], repeating: Float(k + 1) * 1e-3)) })
            try strategy.accumulate(delta, samples: k + 1)
        }
        _ = try strategy.finish()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peak = Int(usage.ru_maxrss) * 1024
        let models = Double(peak) / Double(per * tensors * 4)
        progress(String(format: "streaming FedAvg of %d updates × %d float32: peak RSS %.0f MB = %.2f× the model (%.2f× above the %.0f MB process baseline)",
                        updates, per * tensors, Double(peak) / 1e6, models, Double(peak - baseline) / Double(per * tensors * 4), Double(baseline) / 1e6))
        return (peak, models, baseline)
    }

    /// Aggregates `updates` deltas of `parameters` values (in 10 tensors, as the peer harness),
    /// `repeats` times. The updates are built once and kept (K × model in memory, excluded from
    /// the timing); `streamingMemory` measures memory the way a coordinator receives updates.
    public static func run(updates: Int, parameters: Int, repeats: Int, progress: (String) -> Void = { _ in }) throws -> Report {
        let tensors = 10
        let per = parameters / tensors
        let names = (0..<tensors).map { "layer\($0).weight" }
        let global = Dictionary(uniqueKeysWithValues: names.map { ($0, Tensor(shape: [per])) })
        // Deterministic update values: update k holds (k + 1)·0.001 + tiny index pattern.
        func update(_ k: Int) throws -> ModelDelta {
            try ModelDelta(names.enumerated().map { t, name in
                (name, Tensor(shape: [per], data: (0..<per).map { i in Float(k + 1) * 1e-3 + Float((i + t) % 7) * 1e-4 }))
            })
        }
        // Timing excludes generating the updates: pre-build them once (K × model), fold repeatedly.
        let prepared = try (0..<updates).map(update)
        let strategy = FedAvg()
        var times: [Double] = []
        var result: [String: Tensor] = [:]
        for r in 0..<(repeats + 1) {
            strategy.begin(round: r, global: global)
            let start = BenchTiming.now()
            for (k, u) in prepared.enumerated() { try strategy.accumulate(u, samples: k + 1) }
            result = try strategy.finish()
            let elapsed = BenchTiming.now() - start
            if r > 0 { times.append(elapsed * 1000) }
        }
        // Check against a Double reference at a sample of coordinates.
        var maxErr = 0.0
        let weightTotal = Double(updates * (updates + 1) / 2)
        for t in 0..<tensors {
            for i in stride(from: 0, to: per, by: 4099) {
                var ref = 0.0
                for k in 0..<updates { ref += Double(k + 1) * Double(Float(k + 1) * 1e-3 + Float((i + t) % 7) * 1e-4) }
                maxErr = max(maxErr, abs(Double(result[names[t]]!.data[i]) - ref / weightTotal))
            }
        }
        let summary = BenchTiming.Summary(times)
        let inputBytes = updates * per * tensors * 4
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peak = Int(usage.ru_maxrss) * 1024
        progress("aggregate \(updates) × \(per * tensors) float32: \(String(format: "%.1f", summary.median)) ms, "
                 + String(format: "%.1f GB/s", Double(inputBytes) / (summary.median / 1000) / 1e9))
        return Report(updates: updates, parameters: per * tensors, tensors: tensors, inputBytesPerAggregation: inputBytes,
                      millisecondsPerAggregation: summary,
                      gigabytesPerSecond: Double(inputBytes) / (summary.median / 1000) / 1e9, maxAbsErrorVsDouble: maxErr,
                      peakResidentBytes: peak, peakResidentModels: Double(peak) / Double(per * tensors * 4))
    }
}
