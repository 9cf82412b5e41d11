/// Checks shared by the classification metrics; each throws the matching ``MetricsError``.
enum MetricsInput {
    /// Precondition on the class count, which comes from code rather than data.
    static func requireClasses(_ classes: Int) {
        precondition(classes >= 1, "a classification metric needs at least 1 class, got \(classes)")
    }

    /// `labels` is non-empty.
    static func nonEmpty(_ labels: [Int]) throws(MetricsError) {
        if labels.isEmpty { throw .empty(input: "labels") }
    }

    /// `values` has one entry per label.
    static func onePerLabel(_ name: String, count: Int, labels: [Int]) throws(MetricsError) {
        if count != labels.count {
            throw .countMismatch(input: name, count: count, expected: labels.count, reason: "one per label")
        }
    }

    /// Every entry of `values` is in `0..<classes`.
    static func inRange(_ name: String, _ values: [Int], classes: Int) throws(MetricsError) {
        for (index, value) in values.enumerated() where value < 0 || value >= classes {
            throw .classOutOfRange(input: name, index: index, value: value, classes: classes)
        }
    }

    /// No entry of `scores` is NaN.
    static func noNaN(_ name: String, _ scores: [Float]) throws(MetricsError) {
        if let index = scores.firstIndex(where: \.isNaN) { throw .nanScore(input: name, index: index) }
    }

    /// A row-major `[labels.count * classes]` score matrix without NaN.
    static func matrix(_ name: String, _ scores: [Float], labels: [Int], classes: Int) throws(MetricsError) {
        let expected = labels.count * classes
        if scores.count != expected {
            throw .countMismatch(input: name, count: scores.count, expected: expected,
                                 reason: "\(labels.count) samples x \(classes) classes")
        }
        try noNaN(name, scores)
    }
}
