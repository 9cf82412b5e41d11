import CohortTensor

/// The loss a regression model trains with, on outputs and targets of the same shape
/// (standardised units when the targets were standardised).
public enum RegressionLoss: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Mean squared error.
    case mse
    /// Mean absolute error (subgradient 0 at a zero residual).
    case mae
    /// Huber loss with threshold `delta`: ½r² for |r| ≤ δ, δ(|r| − ½δ) beyond.
    case huber(delta: Float)

    /// Parses `mse`, `mae`, `huber` (δ = 1) or `huber:DELTA`; nil for anything else or a
    /// non-positive or non-finite δ.
    public init?(text: String) {
        switch text.lowercased() {
        case "mse": self = .mse
        case "mae": self = .mae
        case "huber": self = .huber(delta: 1)
        default:
            let parts = text.lowercased().split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0] == "huber", let d = Float(parts[1]), d.isFinite, d > 0 else { return nil }
            self = .huber(delta: d)
        }
    }

    /// `mse`, `mae` or `huber:DELTA`.
    public var description: String {
        switch self {
        case .mse: return "mse"
        case .mae: return "mae"
        case .huber(let d): return "huber:\(d)"
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let loss = RegressionLoss(text: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown regression loss '\(text)' (mse, mae, huber, huber:DELTA)"))
        }
        self = loss
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// The batch-mean loss (over every output value) and its gradient with respect to `output`.
    public func evaluate(output: Tensor, target: Tensor) -> LossResult {
        switch self {
        case .mse: return Loss.meanSquaredError(output: output, target: target)
        case .mae: return Loss.meanAbsoluteError(output: output, target: target)
        case .huber(let d): return Loss.huber(output: output, target: target, delta: d)
        }
    }
}

extension Loss {
    /// Mean absolute error, averaged over every value; the gradient is sign(r)/n (0 at r = 0).
    public static func meanAbsoluteError(output: Tensor, target: Tensor) -> LossResult {
        precondition(output.shape == target.shape, "MAE: output \(output.shape) vs target \(target.shape)")
        return residualMean(output: output, target: target) { r in (abs(r), r > 0 ? 1 : r < 0 ? -1 : 0) }
    }

    /// Huber loss with threshold `delta` (> 0), averaged over every value: ½r² for |r| ≤ δ,
    /// δ(|r| − ½δ) beyond; the gradient is r/n inside and δ·sign(r)/n outside.
    public static func huber(output: Tensor, target: Tensor, delta: Float) -> LossResult {
        precondition(output.shape == target.shape, "Huber: output \(output.shape) vs target \(target.shape)")
        precondition(delta > 0 && delta.isFinite, "Huber threshold must be positive, got \(delta)")
        return residualMean(output: output, target: target) { r in
            let a = abs(r)
            return a <= delta ? (0.5 * r * r, r) : (delta * (a - 0.5 * delta), r > 0 ? delta : -delta)
        }
    }

    /// The mean over every value of `perValue(r)`'s loss, r = output − target, and the gradient
    /// `perValue(r)`'s derivative / n. Shapes are checked by the callers.
    @inline(__always)
    private static func residualMean(output: Tensor, target: Tensor,
                                     _ perValue: (Float) -> (loss: Float, derivative: Float)) -> LossResult {
        let count = output.count
        let n = Float(max(count, 1))
        var grad = [Float](repeating: 0, count: count)
        var total = 0.0
        output.data.withUnsafeBufferPointer { o in
            target.data.withUnsafeBufferPointer { t in
                for i in 0..<count {
                    let (loss, derivative) = perValue(o[i] - t[i])
                    total += Double(loss)
                    grad[i] = derivative / n
                }
            }
        }
        return LossResult(value: Float(total / Double(n)), gradient: Tensor(shape: output.shape, data: grad))
    }
}
