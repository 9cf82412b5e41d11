import Foundation

/// Side-by-side ratios against the PyTorch peer harness (`shared/bench/peers/train_throughput.py`),
/// read from the JSON line it prints.
public struct PeerComparison: Codable, Sendable {
    /// The peer file the figures came from.
    public var source: String
    /// PyTorch samples/s median, by thread count and case.
    public var torchSamplesPerSecond: [String: [String: Double]]
    /// Cohort ÷ PyTorch, by thread count and case (only where both measured).
    public var ratio: [String: [String: Double]]

    /// Reads the harness output at `path` and pairs it with Cohort's medians
    /// (`cohort[threads][case]`).
    public static func load(path: String, cohort: [String: [String: Double]]) throws -> PeerComparison {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchError("cannot read peer results '\(path)'")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let byThreads = root["by_threads"] as? [String: Any] else {
            throw BenchError("'\(path)' is not train_throughput.py output (no 'by_threads' object)")
        }
        var torch: [String: [String: Double]] = [:]
        var ratio: [String: [String: Double]] = [:]
        for (threads, entry) in byThreads {
            guard let cases = (entry as? [String: Any])?["cases"] as? [String: Any] else { continue }
            for (name, value) in cases {
                guard let median = ((value as? [String: Any])?["samples_per_s"] as? [String: Any])?["median"] as? Double else { continue }
                torch[threads, default: [:]][name] = median
                if let ours = cohort[threads]?[name] { ratio[threads, default: [:]][name] = ours / median }
            }
        }
        return PeerComparison(source: path, torchSamplesPerSecond: torch, ratio: ratio)
    }
}

/// A benchmark failure with a message for the user.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
