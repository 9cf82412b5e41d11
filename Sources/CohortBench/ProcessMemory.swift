import Foundation

/// This process's memory, as benchmarks report it.
public enum ProcessMemory {
    /// Peak resident set so far: `VmHWM` of /proc/self/status (kept per address space, so it
    /// starts afresh at exec; `getrusage`'s ru_maxrss carries the parent's peak over a fork and
    /// exec), else ru_maxrss.
    public static func peakResidentBytes() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "") {
            return kb * 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }
}
