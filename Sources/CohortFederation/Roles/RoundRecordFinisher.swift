import Foundation

/// What every round runner does last to its record: the sample-weighted validation accuracy of
/// the global model the nodes received (from their `global_val_accuracy` and `samples`
/// metrics), how long the round took and when it finished.
struct RoundRecordFinisher {
    /// When the round started.
    let start: Date

    /// Fills `record`'s accuracy and timing from its node metrics and the clock.
    func finish(_ record: inout Coordinator.RoundRecord) {
        record.globalValidationAccuracy = Self.weightedAccuracy(record.nodeMetrics)
        record.seconds = Date().timeIntervalSince(start)
        record.finishedAt = Date().timeIntervalSince1970
    }

    /// The sample-weighted mean of the finite `global_val_accuracy` metrics; nil without any.
    static func weightedAccuracy(_ metrics: [String: [String: Double]]) -> Double? {
        var weighted = 0.0, total = 0.0
        for m in metrics.values {
            if let a = m["global_val_accuracy"], a.isFinite, let n = m["samples"] { weighted += a * n; total += n }
        }
        return total > 0 ? weighted / total : nil
    }

    /// The record's accuracy for the log ("n/a" without one).
    static func accuracyText(_ record: Coordinator.RoundRecord) -> String {
        record.globalValidationAccuracy.map { String(format: "%.3f", $0) } ?? "n/a"
    }
}
