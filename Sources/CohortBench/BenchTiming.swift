import Foundation

/// Timing helpers shared by the benchmarks: monotonic clock, repeats, medians.
public enum BenchTiming {
    /// Seconds on a monotonic clock.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// CPU seconds used so far by every thread of this process.
    public static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Runs `body` repeatedly for at least `seconds` (and `minIterations`); returns iterations
    /// per second.
    public static func rate(seconds: Double, minIterations: Int = 3, _ body: () -> Void) -> Double {
        var iterations = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            body()
            iterations += 1
            elapsed = now() - start
        } while elapsed < seconds || iterations < minIterations
        return Double(iterations) / elapsed
    }

    /// Median of a non-empty list.
    public static func median(_ values: [Double]) -> Double {
        precondition(!values.isEmpty, "median of an empty list")
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
    }

    /// Summary statistics of repeated measurements, as printed in the JSON reports.
    public struct Summary: Codable, Sendable {
        public var median: Double
        public var min: Double
        public var max: Double
        public var repeats: Int
        public init(_ values: [Double]) {
            median = BenchTiming.median(values)
            min = values.min()!
            max = values.max()!
            repeats = values.count
        }
    }
}
