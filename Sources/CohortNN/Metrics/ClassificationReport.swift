/// The headline classification metrics of one evaluation, computed from labels and a
/// row-major `[n * classes]` probability (or score) matrix; predictions are the row argmax.
public struct ClassificationReport: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Fraction of samples whose argmax prediction equals the label.
    public let accuracy: Double
    /// Mean recall over the classes present in the labels.
    public let balancedAccuracy: Double
    /// Mean F1 over the classes present in the labels or predictions.
    public let macroF1: Double
    /// For two classes the binary AUROC of column 1 (class 1 positive); for more classes the
    /// macro one-vs-rest AUROC; `nil` when fewer than two classes occur in the labels.
    public let auroc: Double?
    /// Counts of true against predicted classes.
    public let confusion: ConfusionMatrix

    /// Evaluates `probabilities` against `labels`.
    ///
    /// Rows need not sum to 1: only their argmax and the ranking of each column matter.
    ///
    /// - Precondition: `classes >= 1`.
    /// - Throws: ``MetricsError`` for empty input, a wrong matrix size, a label outside
    ///   `0..<classes` or a NaN score.
    public init(labels: [Int], probabilities: [Float], classes: Int) throws(MetricsError) {
        MetricsInput.requireClasses(classes)
        try MetricsInput.nonEmpty(labels)
        try MetricsInput.matrix("probabilities", probabilities, labels: labels, classes: classes)
        let predictions = try ClassificationMetrics.argmax(scores: probabilities, classes: classes)
        let confusion = try ConfusionMatrix(labels: labels, predictions: predictions, classes: classes)
        if classes == 2 {
            let positive = (0..<labels.count).map { probabilities[$0 * 2 + 1] }
            auroc = try ClassificationMetrics.auroc(labels: labels, scores: positive, positiveClass: 1)
        } else {
            auroc = try ClassificationMetrics.macroAUROC(labels: labels, scores: probabilities, classes: classes)
        }
        self.accuracy = confusion.accuracy
        self.balancedAccuracy = confusion.balancedAccuracy
        self.macroF1 = confusion.macroF1
        self.confusion = confusion
    }

    /// Number of evaluated samples.
    public var samples: Int { confusion.total }

    /// The metrics on one line each, followed by the confusion matrix.
    public var description: String { described() }

    /// The metrics on one line each, followed by the confusion matrix whose rows and columns
    /// are headed by `classNames` (class indices when nil or when the count differs).
    public func described(classNames: [String]? = nil) -> String {
        let names = classNames.flatMap { $0.count == confusion.classes ? $0 : nil }
        func format(_ value: Double) -> String {
            let scaled = (value * 10_000).rounded()
            let whole = Int(scaled) / 10_000, fraction = Int(scaled) % 10_000
            let digits = String(fraction)
            return "\(whole)." + String(repeating: "0", count: 4 - digits.count) + digits
        }
        return """
            samples            \(samples)
            accuracy           \(format(accuracy))
            balanced accuracy  \(format(balancedAccuracy))
            macro F1           \(format(macroF1))
            AUROC              \(auroc.map(format) ?? "undefined")
            \(confusion.rendered(classNames: names))
            """
    }
}
