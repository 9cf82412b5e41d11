/// Classification metrics over plain arrays: integer labels and predictions, `Float` scores,
/// and row-major `[samples * classes]` score matrices. No tensor types are involved.
///
/// Bad data (empty input, mismatched lengths, a class outside `0..<classes`, NaN scores)
/// throws ``MetricsError``; a class count below 1 is a programming error and traps.
public enum ClassificationMetrics {
    /// Fraction of predictions equal to their label.
    ///
    /// - Throws: ``MetricsError`` for empty or mismatched input.
    public static func accuracy(labels: [Int], predictions: [Int]) throws(MetricsError) -> Double {
        try MetricsInput.nonEmpty(labels)
        try MetricsInput.onePerLabel("predictions", count: predictions.count, labels: labels)
        let correct = zip(labels, predictions).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        return Double(correct) / Double(labels.count)
    }

    /// The `classes x classes` confusion matrix (rows true, columns predicted).
    public static func confusionMatrix(labels: [Int], predictions: [Int], classes: Int) throws(MetricsError) -> ConfusionMatrix {
        try ConfusionMatrix(labels: labels, predictions: predictions, classes: classes)
    }

    /// Mean per-class recall over the classes present in `labels`.
    public static func balancedAccuracy(labels: [Int], predictions: [Int], classes: Int) throws(MetricsError) -> Double {
        try ConfusionMatrix(labels: labels, predictions: predictions, classes: classes).balancedAccuracy
    }

    /// Precision, recall and F1 of every class `0..<classes`.
    public static func classScores(labels: [Int], predictions: [Int], classes: Int) throws(MetricsError) -> [ClassScores] {
        try ConfusionMatrix(labels: labels, predictions: predictions, classes: classes).classScores
    }

    /// Mean F1 over the classes present in `labels` or `predictions`.
    public static func macroF1(labels: [Int], predictions: [Int], classes: Int) throws(MetricsError) -> Double {
        try ConfusionMatrix(labels: labels, predictions: predictions, classes: classes).macroF1
    }

    /// F1 of `positiveClass` against all other values: `2TP / (2TP + FP + FN)`, or 0 when the
    /// class occurs in neither the labels nor the predictions.
    public static func binaryF1(labels: [Int], predictions: [Int], positiveClass: Int = 1) throws(MetricsError) -> Double {
        try MetricsInput.nonEmpty(labels)
        try MetricsInput.onePerLabel("predictions", count: predictions.count, labels: labels)
        var truePositives = 0, labelled = 0, predicted = 0
        for (label, prediction) in zip(labels, predictions) {
            if label == positiveClass { labelled += 1 }
            if prediction == positiveClass { predicted += 1 }
            if label == positiveClass && prediction == positiveClass { truePositives += 1 }
        }
        return labelled + predicted == 0 ? 0 : 2 * Double(truePositives) / Double(labelled + predicted)
    }

    /// The index of the largest score in each row of a row-major `[n * classes]` matrix;
    /// ties go to the lower class index.
    ///
    /// - Precondition: `classes >= 1`.
    /// - Throws: ``MetricsError`` when the matrix size is not a multiple of `classes` or holds NaN.
    public static func argmax(scores: [Float], classes: Int) throws(MetricsError) -> [Int] {
        MetricsInput.requireClasses(classes)
        if scores.count % classes != 0 {
            throw .raggedMatrix(input: "scores", count: scores.count, classes: classes)
        }
        try MetricsInput.noNaN("scores", scores)
        return (0..<(scores.count / classes)).map { row in
            var best = 0
            for c in 1..<classes where scores[row * classes + c] > scores[row * classes + best] { best = c }
            return best
        }
    }
}
