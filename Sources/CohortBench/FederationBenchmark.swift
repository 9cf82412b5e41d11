import CohortFederation
import CohortSimulation
import Foundation

/// `cohort bench federation`: the federation figures in one sitting, each beside its peer
/// where there is one, and the project's floors checked against what was measured:
///
/// 1. round overhead (10 node processes, tiny model) and time to the end of round 1, with
///    Flower's `flower_round_overhead.py`;
/// 2. aggregation throughput, 10 × 10M float32, with `aggregate_throughput.py` (numpy, Flower);
/// 3. peak coordinator memory aggregating 50 updates of a 10M-parameter model;
/// 4. the most concurrent nodes carried through a full round.
public enum FederationBenchmark {
    /// What to run.
    public struct Options: Sendable {
        public var executable: String
        public var workDir: String
        /// nil: skip the peer harnesses.
        public var peers: PeerHarness?
        public var clients = 10
        public var rounds = 20
        public var aggregateUpdates = 10
        public var aggregateParameters = 10_000_000
        public var memoryUpdates = 50
        public var memoryParameters = 10_000_000
        /// Node counts to try, ascending; stops at the first that fails.
        public var nodeCounts = [500, 1000, 2000]
        public init(executable: String, workDir: String, peers: PeerHarness?) {
            self.executable = executable
            self.workDir = workDir
            self.peers = peers
        }
    }

    /// One floor: a measured figure against its limit.
    public struct Floor: Codable, Sendable {
        public var name: String
        public var unit: String
        public var measured: Double?
        /// `at most` or `at least`.
        public var rule: String
        public var limit: Double
        /// nil when the figure could not be measured.
        public var met: Bool?
        public var shortBy: String?

        init(_ name: String, unit: String, measured: Double?, atMost limit: Double) {
            self.name = name; self.unit = unit; self.measured = measured; self.rule = "at most"; self.limit = limit
            met = measured.map { $0 <= limit }
            if let m = measured, m > limit { shortBy = String(format: "%.3g %@ over (%.0f%%)", m - limit, unit, 100 * (m - limit) / limit) }
        }

        init(_ name: String, unit: String, measured: Double?, atLeast limit: Double) {
            self.name = name; self.unit = unit; self.measured = measured; self.rule = "at least"; self.limit = limit
            met = measured.map { $0 >= limit }
            if let m = measured, m < limit { shortBy = String(format: "%.3g %@ under (%.0f%%)", limit - m, unit, 100 * (limit - m) / limit) }
        }
    }

    /// Flower's figures for one variant of its harness.
    public struct FlowerVariant: Codable, Sendable {
        public var firstRoundSeconds: Double?
        public var steadyRoundMedianSeconds: Double?
        public var totalWallSeconds: Double?
    }

    /// The whole report.
    public struct Report: Codable, Sendable {
        public var bench = "federation"
        public var date: String
        public var cpus: Int
        public var roundOverhead: RoundOverheadBenchmark.Result?
        public var roundOverheadError: String?
        /// Flower's variants (ray2cpu_train, ray1cpu_train, ray2cpu_train_eval), same sitting.
        public var flowerRoundOverhead: [String: FlowerVariant]?
        public var aggregation: AggregationBenchmark.Report?
        public var aggregationError: String?
        /// The peer harness's GB/s of input by method (numpy, Flower), 2 threads, same sitting.
        public var peerAggregationGigabytesPerSecond: [String: Double]?
        public var coordinatorMemory: CoordinatorMemoryBenchmark.Report?
        public var coordinatorMemoryError: String?
        public var concurrentNodes: [ConcurrencyBenchmark.Result]
        /// The largest node count whose round aggregated every node's update.
        public var mostConcurrentNodesHeld: Int?
        public var peersSkipped: String?
        public var floors: [Floor]
    }

    /// Runs everything in order (one heavy step at a time); failures of one part are reported
    /// in the document and the rest still runs.
    public static func run(_ o: Options, progress: @escaping (String) -> Void = { _ in }) throws -> Report {
        try FileManager.default.createDirectory(atPath: o.workDir, withIntermediateDirectories: true)
        func p(_ name: String) -> String { (o.workDir as NSString).appendingPathComponent(name) }
        let formatter = ISO8601DateFormatter()
        var report = Report(date: formatter.string(from: Date()), cpus: ProcessInfo.processInfo.activeProcessorCount,
                            concurrentNodes: [], floors: [])
        let peers = o.peers.flatMap { $0.unavailable() == nil ? $0 : nil }
        if let harness = o.peers, let why = harness.unavailable() { report.peersSkipped = why } else if o.peers == nil { report.peersSkipped = "not asked for" }

        // 1. Round overhead, then Flower's.
        do {
            report.roundOverhead = try RoundOverheadBenchmark.run(executable: o.executable, clients: o.clients, rounds: o.rounds,
                                                                  dir: p("rounds"), progress: progress)
        } catch { report.roundOverheadError = "\(error)" }
        if let peers {
            progress("round overhead: Flower's harness (three variants, about a minute)")
            do {
                let json = try peers.run("flower_round_overhead.py", ["--clients", "\(o.clients)", "--rounds", "\(o.rounds)", "--out", p("flower.json")],
                                         timeout: 900, log: p("flower.log"))
                var variants: [String: FlowerVariant] = [:]
                for (name, value) in json["variants"] as? [String: Any] ?? [:] {
                    let v = value as? [String: Any] ?? [:]
                    variants[name] = FlowerVariant(firstRoundSeconds: v["first_round_s"] as? Double,
                                                   steadyRoundMedianSeconds: (v["steady_rounds_2_to_n_s"] as? [String: Any])?["median"] as? Double,
                                                   totalWallSeconds: v["total_wall_s"] as? Double)
                }
                report.flowerRoundOverhead = variants
            } catch { report.peersSkipped = "Flower round overhead: \(error)" }
        }

        // 2. Aggregation throughput, then numpy's and Flower's.
        do {
            report.aggregation = try AggregationBenchmark.run(updates: o.aggregateUpdates, parameters: o.aggregateParameters, repeats: 7, progress: progress)
        } catch { report.aggregationError = "\(error)" }
        if let peers {
            progress("aggregation: numpy and Flower (aggregate_throughput.py, 2 threads)")
            do {
                let json = try peers.run("aggregate_throughput.py", ["--threads", "2", "--clients", "\(o.aggregateUpdates)",
                                                                     "--params", "\(o.aggregateParameters)", "--out", p("aggregate-peers.json")],
                                         timeout: 900, log: p("aggregate-peers.log"))
                let methods = ((json["by_threads"] as? [String: Any])?["2"] as? [String: Any])?["methods"] as? [String: Any] ?? [:]
                report.peerAggregationGigabytesPerSecond = methods.compactMapValues { ($0 as? [String: Any])?["gb_per_s_input"] as? Double }
            } catch { report.peersSkipped = (report.peersSkipped.map { $0 + "; " } ?? "") + "aggregation: \(error)" }
        }

        // 3. Coordinator memory, in a fresh process (peak RSS is a high-water mark).
        do {
            progress("aggregate --memory: \(o.memoryUpdates) updates of a \(o.memoryParameters)-parameter model (own process)")
            try ChildProcess.runToEnd(name: "bench aggregate --memory", executable: o.executable,
                                      arguments: ["bench", "aggregate", "--memory", "--updates", "\(o.memoryUpdates)", "--params", "\(o.memoryParameters)",
                                                  "--out", p("memory.json")], logPath: p("memory.log"), timeout: 900)
            let data = try Data(contentsOf: URL(fileURLWithPath: p("memory.json")))
            report.coordinatorMemory = try JSONDecoder().decode(CoordinatorMemoryBenchmark.Report.self, from: data)
        } catch { report.coordinatorMemoryError = "\(error)" }

        // 4. Concurrent nodes, ascending until one count fails.
        for n in o.nodeCounts {
            guard let result = try? ConcurrencyBenchmark.run(nodes: n, timeout: 120, progress: progress) else { break }
            report.concurrentNodes.append(result)
            guard result.accepted == n else { break }
            report.mostConcurrentNodesHeld = n
        }

        report.floors = [
            Floor("steady round overhead (median of rounds 2-\(o.rounds), \(o.clients) node processes)", unit: "s",
                  measured: report.roundOverhead?.steadyRoundMedianSeconds, atMost: 0.02),
            Floor("launch to the end of round 1", unit: "s", measured: report.roundOverhead?.launchToRound1DoneSeconds, atMost: 2),
            Floor("aggregation throughput, \(o.aggregateUpdates) × \(o.aggregateParameters) float32, all updates waiting", unit: "GB/s",
                  measured: report.aggregation?.gigabytesPerSecondBatched, atLeast: 10),
            Floor("decode and check (finite, norm) of dense float32 updates where they lie, one thread (fold beside it: aggregation throughput)",
                  unit: "GB/s", measured: report.aggregation?.gigabytesPerSecondDecodeInPlace, atLeast: 8),
            Floor("decode and check of dense float32 updates gathered from 1 MiB chunks and kept (fresh memory per record), one thread",
                  unit: "GB/s", measured: report.aggregation?.gigabytesPerSecondDecode, atLeast: 8),
            Floor("peak coordinator RSS above the process baseline, \(o.memoryUpdates) updates", unit: "× model",
                  measured: report.coordinatorMemory?.peakAboveBaselineModels, atMost: 3),
            Floor("peak coordinator RSS in total (baseline included), \(o.memoryUpdates) updates", unit: "× model",
                  measured: report.coordinatorMemory?.peakTotalModels, atMost: 3),
            Floor("concurrent nodes held through a full round", unit: "nodes", measured: report.mostConcurrentNodesHeld.map(Double.init), atLeast: 500),
        ]
        return report
    }
}
