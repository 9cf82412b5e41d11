import CohortAdapt
import Foundation

/// The terminal form of an `AdaptationSummary`.
enum AdaptationText {
    static func describe(_ s: AdaptationSummary, target: String, out: String) -> String {
        func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
        func stats(_ p: PredictionStatistics) -> String {
            String(format: "entropy %.3f  confidence %.3f  predicted ", p.meanEntropy, p.meanConfidence)
                + p.predictedFractions.map { String(format: "%.2f", $0) }.joined(separator: " / ")
        }
        var lines = ["adapt: \(s.method.rawValue) on \(target): \(s.targetRows) target rows"
                     + (s.supportRows > 0 ? ", \(s.supportRows) labelled rows used" : ", labels not used")
                     + (s.sourceRows.map { ", \($0) source rows" } ?? "")
                     + (s.epochs > 0 ? ", \(s.epochs) epochs at \(s.learningRate.map { "\($0)" } ?? "-")" : "")
                     + String(format: ", %.1f s", s.seconds)]
        lines.append("  before: " + stats(s.before))
        lines.append("  after:  " + stats(s.after))
        if let a = s.accuracyBefore, let b = s.accuracyAfter {
            lines.append("  accuracy on \(s.validationRows) labelled target rows: \(pct(a)) -> \(pct(b))")
        } else {
            lines.append("  accuracy: no labelled target rows to measure it on")
        }
        let shown = s.changedTensors.prefix(6).joined(separator: ", ") + (s.changedTensors.count > 6 ? ", ..." : "")
        lines.append("  changed \(s.changedTensors.count) tensors" + (shown.isEmpty ? "" : ": \(shown)"))
        if let g = s.guardReport {
            lines.append("  guard: kept \(g.winner.rawValue) (validation: incoming \(pct(Double(g.incomingScore)))"
                         + (g.adaptedScore.map { ", adapted \(pct(Double($0)))" } ?? "") + ", scratch \(pct(Double(g.scratchScore)))"
                         + String(format: "; margin %+.1f points over the runner-up)", Double(g.margin) * 100))
        }
        lines.append("saved \(out)")
        return lines.joined(separator: "\n")
    }
}
