import Foundation
import CohortNN
import CohortTensor

/// `cohort predict --labels`: one CSV row per sample beside the logits file — the predicted
/// class's name (or index when no names are known), or for a regression target the prediction
/// in the target's original units.
public enum PredictedLabels {
    /// Writes `logits` (`[N, k]`) as a `predicted` column (`predicted_0…` for several regression
    /// targets) to `path` atomically.
    public static func write(_ logits: Tensor, preprocessing: FittedPreprocessing?, to path: String) throws {
        let n = logits.rows, k = logits.rank < 2 ? 1 : logits.columns
        var text: String
        if let p = preprocessing, p.schema.label.isRegression {
            let scaling = p.targetScaling
            text = (k == 1 ? "predicted" : (0..<k).map { "predicted_\($0)" }.joined(separator: ",")) + "\n"
            for i in 0..<n {
                text += (0..<k).map { j -> String in
                    let v = logits.data[i * k + j]
                    return (scaling.flatMap { j < $0.center.count ? $0.original(v, target: j) : nil } ?? v).description
                }.joined(separator: ",") + "\n"
            }
        } else {
            let names = preprocessing?.classNames
            text = "predicted\n"
            for c in logits.argmaxRows() {
                let name = names.flatMap { c < $0.count ? $0[c] : nil } ?? String(c)
                text += quoted(name) + "\n"
            }
        }
        try AtomicDataFileWriter.write(Array(text.utf8), to: path)
    }

    /// A CSV cell: quoted (with `""` for a quote) when it holds a comma, quote or line break.
    static func quoted(_ cell: String) -> String {
        guard cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
