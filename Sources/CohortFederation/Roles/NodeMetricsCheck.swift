/// Checks the metrics a node reports before the coordinator keeps (and journals) them: every
/// value finite and within ±`maxMagnitude`, scores (names ending in `accuracy`) in [0, 1], and
/// names short and printable. What fails is left out and named, so a node cannot make the
/// journal unencodable or a weighted mean overflow (a reported 1e308 once stopped the
/// coordinator and `--resume`).
enum NodeMetricsCheck {
    /// Largest magnitude kept for any metric.
    static let maxMagnitude = 1e15
    /// Longest metric name kept.
    static let maxNameLength = 64
    /// Most metrics kept from one report.
    static let maxCount = 64

    /// The metrics that pass, and the names of those left out (sorted).
    static func validated(_ metrics: [String: Double]) -> (kept: [String: Double], dropped: [String]) {
        var kept: [String: Double] = [:], dropped: [String] = []
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
            let printable = !name.isEmpty && name.count <= maxNameLength && name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
            var ok = printable && value.isFinite && abs(value) <= maxMagnitude && kept.count < maxCount
            if ok, name.hasSuffix("accuracy") { ok = value >= 0 && value <= 1 }
            if ok { kept[name] = value } else { dropped.append(printable ? name : String(name.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }.prefix(maxNameLength))) }
        }
        return (kept, dropped)
    }
}
