import CohortFederation
import Foundation

extension LargeModelBenchmark {
    /// One node process's stages of the real run's round (from its log: `NodeStageTimings`).
    public struct NodeStages: Codable, Sendable {
        public var node: String
        public var round: Int
        public var stages: [NodeStageTimings.Stage]
        /// Seconds of all stages (from the MODEL's first frame to the UPDATE's last byte sent).
        public var totalSeconds: Double
    }

    /// The stages the nodes of the real run logged (`node0.log`, `node1.log` in `dir`), every
    /// round's, each stage shown through `progress` with its seconds and memory in models.
    static func nodeStages(dir: String, nodes: Int, modelBytes: Int, progress: (String) -> Void) -> [NodeStages] {
        var out: [NodeStages] = []
        for c in 0..<nodes {
            let path = (dir as NSString).appendingPathComponent("node\(c).log")
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            for timings in text.split(separator: "\n").compactMap({ NodeStageTimings.parse(logLine: $0) }) {
                let total = timings.stages.reduce(0) { $0 + $1.seconds }
                out.append(NodeStages(node: "node \(c)", round: timings.round, stages: timings.stages, totalSeconds: total))
                progress(String(format: "large-model: node %d stages (round %d, %.2f s in all):", c, timings.round, total))
                for s in timings.stages {
                    progress(String(format: "large-model:   %7.3f s  RSS %.2f×, peak so far %.2f× the model  %@", s.seconds,
                                    Double(s.residentBytes) / Double(max(modelBytes, 1)), Double(s.peakResidentBytes) / Double(max(modelBytes, 1)), s.name))
                }
            }
        }
        return out
    }
}
