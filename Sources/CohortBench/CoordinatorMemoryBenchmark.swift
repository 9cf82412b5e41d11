import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortSimulation
import CohortTensor
import Foundation

/// `cohort bench aggregate --memory`: peak resident memory of a real coordinator (this
/// process) carrying K nodes through one FedAvg round of a P-parameter model: MODEL streamed to
/// every node, K dense float32 UPDATEs streamed back at once, checked record by record, folded
/// in name order, the round journaled. The nodes run in a child process (`SyntheticNodes`), so
/// their memory is not counted.
public enum CoordinatorMemoryBenchmark {
    /// The measured figures.
    public struct Report: Codable, Sendable {
        public var bench = "aggregate_coordinator_memory"
        public var updates: Int
        public var parameters: Int
        /// P × 4 bytes.
        public var modelBytes: Int
        /// The largest tensor's bytes (the node in turn may hold one such record while it arrives).
        public var largestTensorBytes: Int
        public var accepted: Int
        public var roundSeconds: Double
        /// The coordinator's budget for updates waiting their turn.
        public var bufferBudgetBytes: Int
        /// Resident set before the model was made (the process: code, runtime, threads).
        public var baselineResidentBytes: Int
        /// Peak resident set of the process over the run (VmHWM).
        public var peakResidentBytes: Int
        /// (peak − baseline) / model bytes.
        public var peakAboveBaselineModels: Double
        /// peak / model bytes.
        public var peakTotalModels: Double
        public var method: String
    }

    /// An MLP of about `parameters` parameters: input 1024, four hidden layers of width h, 10
    /// outputs (its largest tensor, a hidden h × h weight, is about 28% of it at 10M).
    public static func model(parameters: Int) -> ModelSpec {
        let h = max(1, Int(((1034.0 * 1034 + 12 * Double(parameters)).squareRoot() - 1034) / 6))
        var layers: [LayerSpec] = []
        for i in 0..<4 { layers += [LayerSpec(.dense, name: "fc\(i)", units: h), LayerSpec(.relu, name: "act\(i)")] }
        return ModelSpec(inputShape: [1024], layers: layers + [LayerSpec(.dense, name: "head", units: 10)])
    }

    /// This process's peak resident set so far (`ProcessMemory.peakResidentBytes`).
    static func peakResident() -> Int { ProcessMemory.peakResidentBytes() }

    /// Runs one round with `updates` synthetic nodes started from `executable` (`cohort`),
    /// which is called as `bench aggregate --play-nodes HOST:PORT --updates K --params P`.
    public static func run(updates: Int, parameters: Int, executable: String, updateBufferBytes: Int? = nil, timeout: Double = 600,
                           progress: (String) -> Void = { _ in }) throws -> Report {
        let baseline = peakResident()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-bench-memory-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // The model is made by `cohort model init` in a child process and loaded from its file, as
        // `cohort coordinator --model` does, so making it costs this process nothing.
        let arch = dir.appendingPathComponent("arch.json").path, initPath = dir.appendingPathComponent("init.ckpt").path
        try JSONEncoder().encode(model(parameters: parameters)).write(to: URL(fileURLWithPath: arch))
        try ChildProcess.runToEnd(name: "model init", executable: executable, arguments: ["model", "init", "--arch", arch, "--out", initPath, "--seed", "1"],
                                  logPath: dir.appendingPathComponent("init.log").path, timeout: timeout)
        HeapTuning.returnLargeBlocks()   // as `cohort coordinator` does
        let initial = try CheckpointFile.load(initPath)
        let count = initial.tensors.reduce(0) { $0 + $1.value.count }
        var config = Coordinator.Config.benchRound(outDir: dir.path, nodes: updates,
            secrets: Dictionary(uniqueKeysWithValues: (0..<updates).map { (SyntheticNodes.name($0), SyntheticNodes.secret($0)) }), timeout: timeout)
        config.finalEvaluation = false
        if let updateBufferBytes { config.updateBufferBytes = updateBufferBytes }
        let coordinator = try Coordinator(config: config, initial: initial, strategy: FedAvg())
        let nodes = try ChildProcess(name: "synthetic nodes", executable: executable,
                                     arguments: ["bench", "aggregate", "--play-nodes", "127.0.0.1:\(coordinator.port)",
                                                 "--updates", "\(updates)", "--params", "\(parameters)"],
                                     logPath: dir.appendingPathComponent("nodes.log").path)
        defer { nodes.stop() }
        progress("aggregate --memory: coordinator on port \(coordinator.port), \(updates) synthetic nodes of a \(count)-parameter model")
        let records = try coordinator.run()
        _ = nodes.wait(timeout: 30)
        let peak = peakResident()
        let modelBytes = 4 * count
        let report = Report(updates: updates, parameters: count, modelBytes: modelBytes,
                            largestTensorBytes: 4 * (initial.tensors.map(\.value.count).max() ?? 0), accepted: records.first?.accepted.count ?? 0,
                            roundSeconds: records.first?.seconds ?? .nan,
                            bufferBudgetBytes: config.updateBufferBytes,
                            baselineResidentBytes: baseline, peakResidentBytes: peak,
                            peakAboveBaselineModels: Double(peak - baseline) / Double(modelBytes),
                            peakTotalModels: Double(peak) / Double(modelBytes),
                            method: "one FedAvg round in this process (the coordinator's code and allocator settings, plain TCP on loopback): "
                                + "initial model loaded from a file made by a child process, MODEL streamed to every node, K dense float32 "
                                + "UPDATEs sent at once by a child process, checked record by record and folded in name order, global.ckpt "
                                + "journaled; peak = VmHWM of this process (/proc/self/status); baseline = the same before the model was loaded")
        progress(String(format: "aggregate --memory: %d updates of %d float32: peak RSS %.0f MB = %.2f× the model (%.2f× above the %.0f MB baseline), round %.2f s",
                        updates, count, Double(peak) / 1e6, report.peakTotalModels, report.peakAboveBaselineModels, Double(baseline) / 1e6, report.roundSeconds))
        return report
    }

    /// The child's side: plays `updates` nodes against `host:port` for the model of `parameters`.
    public static func playNodes(host: String, port: UInt16, updates: Int, parameters: Int) throws -> Int {
        let shapes = try Sequential(spec: model(parameters: parameters), seed: 0).stateDict().map { ($0.name, $0.value.shape) }
        return try SyntheticNodes.run(host: host, port: port, count: updates, shapes: shapes)
    }
}
