/// A problem with the data handed to a classification metric.
///
/// These come from data (an empty evaluation set, a label outside the class range, a NaN
/// score) rather than from code, so they are thrown instead of trapping. The
/// ``description`` is one line naming the problem and the offending input.
public enum MetricsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The named input has no entries, so the metric is undefined.
    case empty(input: String)
    /// The named input has `count` entries where `expected` were needed; `reason` says why.
    case countMismatch(input: String, count: Int, expected: Int, reason: String)
    /// The named score matrix has `count` entries, which is not a whole number of `classes`-wide rows.
    case raggedMatrix(input: String, count: Int, classes: Int)
    /// Entry `index` of the named input is `value`, which is not a class in `0..<classes`.
    case classOutOfRange(input: String, index: Int, value: Int, classes: Int)
    /// Entry `index` of the named input is NaN.
    case nanScore(input: String, index: Int)

    /// One line naming the problem, e.g. `labels[4] = 7 is not a class in 0..<3`.
    public var description: String {
        switch self {
        case .empty(let input):
            return "\(input) is empty: a metric needs at least one sample"
        case .countMismatch(let input, let count, let expected, let reason):
            return "\(input) has \(count) entries, expected \(expected) (\(reason))"
        case .raggedMatrix(let input, let count, let classes):
            return "\(input) has \(count) entries, not a whole number of rows of \(classes) classes"
        case .classOutOfRange(let input, let index, let value, let classes):
            return "\(input)[\(index)] = \(value) is not a class in 0..<\(classes)"
        case .nanScore(let input, let index):
            return "\(input)[\(index)] is NaN"
        }
    }
}
