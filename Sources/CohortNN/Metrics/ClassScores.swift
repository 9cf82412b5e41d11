/// Precision, recall and F1 of one class, treating it as positive and all others as negative.
public struct ClassScores: Sendable, Equatable, Codable {
    /// The class these scores are for.
    public let label: Int
    /// True positives / samples predicted as this class (0 when none were predicted).
    public let precision: Double
    /// True positives / samples of this class (0 when there are none).
    public let recall: Double
    /// Harmonic mean of precision and recall, `2TP / (2TP + FP + FN)` (0 when undefined).
    public let f1: Double
    /// Number of samples whose true class is this one.
    public let support: Int
    /// Number of samples predicted as this class.
    public let predicted: Int

    /// Bundles already computed scores.
    public init(label: Int, precision: Double, recall: Double, f1: Double, support: Int, predicted: Int) {
        self.label = label
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.support = support
        self.predicted = predicted
    }
}
