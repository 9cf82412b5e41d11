import Foundation

/// Elapsed time and an estimate of the time left, from units of work done out of a total.
struct ProgressClock {
    let start = Date()
    let totalUnits: Double
    private(set) var doneUnits = 0.0

    init(totalUnits: Double) { self.totalUnits = max(totalUnits, 1) }

    mutating func advance(_ units: Double) { doneUnits = min(doneUnits + units, totalUnits) }

    var elapsed: Double { Date().timeIntervalSince(start) }

    /// "ETA 1m20s", or "ETA ?" before any work is done.
    var eta: String {
        guard doneUnits > 0 else { return "ETA ?" }
        return "ETA " + Self.duration(elapsed / doneUnits * (totalUnits - doneUnits))
    }

    /// "45s", "3m05s".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s < 60 ? "\(s)s" : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
