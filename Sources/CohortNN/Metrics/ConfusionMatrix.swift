/// Counts of (true class, predicted class) pairs over a non-empty evaluation set.
///
/// Rows are true classes and columns predicted classes: `self[label: 2, predicted: 0]` is the
/// number of class-2 samples predicted as class 0. The accuracy-style metrics are derived
/// from these counts; a matrix always holds at least one sample, so they are always defined.
public struct ConfusionMatrix: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Number of classes; the matrix is `classes x classes`.
    public let classes: Int
    /// Row-major counts: `counts[label * classes + predicted]`.
    public let counts: [Int]

    /// Tallies true labels against predictions.
    ///
    /// - Precondition: `classes >= 1`.
    /// - Throws: ``MetricsError`` when `labels` is empty, the lengths differ, or a label or
    ///   prediction is outside `0..<classes`.
    public init(labels: [Int], predictions: [Int], classes: Int) throws(MetricsError) {
        MetricsInput.requireClasses(classes)
        try MetricsInput.nonEmpty(labels)
        try MetricsInput.onePerLabel("predictions", count: predictions.count, labels: labels)
        try MetricsInput.inRange("labels", labels, classes: classes)
        try MetricsInput.inRange("predictions", predictions, classes: classes)
        var counts = [Int](repeating: 0, count: classes * classes)
        for (label, predicted) in zip(labels, predictions) { counts[label * classes + predicted] += 1 }
        self.classes = classes
        self.counts = counts
    }

    /// A matrix from existing row-major counts.
    ///
    /// - Precondition: `classes >= 1`, `counts.count == classes * classes`, no count is
    ///   negative and at least one is positive.
    public init(classes: Int, counts: [Int]) {
        MetricsInput.requireClasses(classes)
        precondition(counts.count == classes * classes,
                     "a \(classes)-class confusion matrix needs \(classes * classes) counts, got \(counts.count)")
        precondition(counts.allSatisfy { $0 >= 0 }, "confusion matrix counts must not be negative: \(counts)")
        precondition(counts.contains { $0 > 0 }, "a confusion matrix needs at least one sample")
        self.classes = classes
        self.counts = counts
    }

    private enum CodingKeys: String, CodingKey { case classes, counts }

    /// Decodes `classes` and `counts`, rejecting inconsistent data instead of trapping.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let classes = try container.decode(Int.self, forKey: .classes)
        let counts = try container.decode([Int].self, forKey: .counts)
        guard classes >= 1, counts.count == classes * classes,
              counts.allSatisfy({ $0 >= 0 }), counts.contains(where: { $0 > 0 }) else {
            throw DecodingError.dataCorruptedError(
                forKey: .counts, in: container,
                debugDescription: "a \(classes)-class confusion matrix needs \(max(classes, 0) * max(classes, 0)) "
                    + "non-negative counts with at least one sample, got \(counts)")
        }
        self.init(classes: classes, counts: counts)
    }

    /// The number of samples of class `label` predicted as `predicted`.
    public subscript(label label: Int, predicted predicted: Int) -> Int {
        precondition((0..<classes).contains(label) && (0..<classes).contains(predicted),
                     "confusion matrix index (\(label), \(predicted)) is outside 0..<\(classes)")
        return counts[label * classes + predicted]
    }

    /// Number of samples.
    public var total: Int { counts.reduce(0, +) }

    /// Number of correctly classified samples (the diagonal).
    public var correct: Int { (0..<classes).reduce(0) { $0 + counts[$1 * classes + $1] } }

    /// Number of samples whose true class is `label` (row sum).
    public func support(of label: Int) -> Int {
        (0..<classes).reduce(0) { $0 + self[label: label, predicted: $1] }
    }

    /// Number of samples predicted as `label` (column sum).
    public func predictedCount(of label: Int) -> Int {
        (0..<classes).reduce(0) { $0 + self[label: $1, predicted: label] }
    }

    /// Fraction of samples classified correctly.
    public var accuracy: Double { Double(correct) / Double(total) }

    /// Precision, recall, F1 and support of class `label`. A ratio whose denominator is zero
    /// (no predictions of the class, no samples of it) is reported as 0.
    public func scores(of label: Int) -> ClassScores {
        let truePositives = self[label: label, predicted: label]
        let support = support(of: label)
        let predicted = predictedCount(of: label)
        let precision = predicted == 0 ? 0 : Double(truePositives) / Double(predicted)
        let recall = support == 0 ? 0 : Double(truePositives) / Double(support)
        // F1 = 2TP / (2TP + FP + FN) = 2TP / (predicted + support).
        let f1 = predicted + support == 0 ? 0 : 2 * Double(truePositives) / Double(predicted + support)
        return ClassScores(label: label, precision: precision, recall: recall, f1: f1,
                           support: support, predicted: predicted)
    }

    /// Scores of every class `0..<classes`, in order.
    public var classScores: [ClassScores] { (0..<classes).map(scores(of:)) }

    /// Mean recall over the classes that occur among the true labels. Unlike accuracy it
    /// weighs every present class equally, so a majority-class predictor scores 1 / (present classes).
    public var balancedAccuracy: Double {
        let present = classScores.filter { $0.support > 0 }
        return present.reduce(0) { $0 + $1.recall } / Double(present.count)
    }

    /// Mean F1 over the classes that occur among the true labels or the predictions
    /// (classes absent from both are left out rather than counted as 0).
    public var macroF1: Double {
        let present = classScores.filter { $0.support > 0 || $0.predicted > 0 }
        return present.reduce(0) { $0 + $1.f1 } / Double(present.count)
    }

    /// The matrix as a right-aligned table with true classes down and predictions across;
    /// `classNames` (one per class) replace the class indices in the headers.
    public func rendered(classNames: [String]? = nil) -> String {
        let names = classNames ?? (0..<classes).map(String.init)
        precondition(names.count == classes, "rendered(classNames:) needs \(classes) names, got \(names.count)")
        let corner = "true\\pred"
        let firstWidth = max(corner.count, names.map(\.count).max() ?? 0)
        let cellWidth = max(names.map(\.count).max() ?? 0, counts.map { String($0).count }.max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: width - text.count) + text }
        var lines = [([pad(corner, firstWidth)] + names.map { pad($0, cellWidth) }).joined(separator: "  ")]
        for label in 0..<classes {
            let cells = (0..<classes).map { pad(String(self[label: label, predicted: $0]), cellWidth) }
            lines.append(([pad(names[label], firstWidth)] + cells).joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    /// The table from ``rendered(classNames:)`` with class indices as headers.
    public var description: String { rendered() }
}
