/// Area under the ROC curve, via the Mann–Whitney rank statistic.
extension ClassificationMetrics {
    /// Binary AUROC: the probability that a random sample of `positiveClass` scores higher
    /// than a random other sample, ties counting one half.
    ///
    /// Computed from ranks: all scores are ranked ascending, tied scores share the average of
    /// their ranks, and AUROC = (R₊ − n₊(n₊+1)/2) / (n₊ n₋) where R₊ is the positives' rank sum.
    ///
    /// - Parameters:
    ///   - labels: True classes; `positiveClass` is positive and every other value negative.
    ///   - scores: One score per sample, higher meaning more likely positive (±infinity allowed).
    ///   - positiveClass: The class treated as positive.
    /// - Returns: The AUROC in [0, 1], or `nil` when there are no positives or no negatives.
    /// - Throws: ``MetricsError`` for empty input, mismatched lengths or a NaN score.
    public static func auroc(labels: [Int], scores: [Float], positiveClass: Int = 1) throws(MetricsError) -> Double? {
        try MetricsInput.nonEmpty(labels)
        try MetricsInput.onePerLabel("scores", count: scores.count, labels: labels)
        try MetricsInput.noNaN("scores", scores)
        return rankAUROC(isPositive: labels.map { $0 == positiveClass }, scores: scores)
    }

    /// Macro one-vs-rest AUROC from a row-major `[labels.count * classes]` score matrix: for
    /// each class present in `labels`, the binary AUROC of that class's column against all other
    /// samples, averaged. Classes absent from `labels` are skipped.
    ///
    /// - Precondition: `classes >= 1`.
    /// - Returns: The mean AUROC, or `nil` when no class has both positives and negatives
    ///   (fewer than two classes present).
    /// - Throws: ``MetricsError`` for empty input, a wrong matrix size, a label outside
    ///   `0..<classes` or a NaN score.
    public static func macroAUROC(labels: [Int], scores: [Float], classes: Int) throws(MetricsError) -> Double? {
        MetricsInput.requireClasses(classes)
        try MetricsInput.nonEmpty(labels)
        try MetricsInput.inRange("labels", labels, classes: classes)
        try MetricsInput.matrix("scores", scores, labels: labels, classes: classes)
        var sum = 0.0, defined = 0
        for c in 0..<classes {
            let column = (0..<labels.count).map { scores[$0 * classes + c] }
            if let area = rankAUROC(isPositive: labels.map { $0 == c }, scores: column) {
                sum += area
                defined += 1
            }
        }
        return defined == 0 ? nil : sum / Double(defined)
    }

    /// The rank-average Mann–Whitney AUROC over validated input; `nil` without both kinds of sample.
    static func rankAUROC(isPositive: [Bool], scores: [Float]) -> Double? {
        let positives = isPositive.reduce(0) { $0 + ($1 ? 1 : 0) }
        let negatives = isPositive.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var positiveRankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && scores[order[end]] == scores[order[start]] { end += 1 }
            // Positions start..<end hold equal scores; their 1-based ranks start+1 ... end average to:
            let averageRank = Double(start + 1 + end) / 2
            for position in start..<end where isPositive[order[position]] { positiveRankSum += averageRank }
            start = end
        }
        let p = Double(positives)
        return (positiveRankSum - p * (p + 1) / 2) / (p * Double(negatives))
    }
}
