/// The aggregation strategies a plan can name (`TrainingPlan.strategy`); the raw values are the
/// names in plan JSON.
public enum StrategyName: String, CaseIterable, Sendable {
    case fedavg, fedprox, fedbn, fedadam, fedyogi, fedadagrad, median
    case trimmedMean = "trimmed-mean"
    case krum
    case multiKrum = "multi-krum"

    /// The strategy called `name` in a plan; throws `UnknownStrategy`, listing the valid names.
    public init(parsing name: String) throws(UnknownStrategy) {
        guard let known = StrategyName(rawValue: name) else { throw UnknownStrategy(name: name) }
        self = known
    }

    /// Whether it averages every update whole, with equal weight or by samples, so privacy and
    /// secure aggregation can run it (the coordinator then sees a clipped or summed update).
    public var averagesWholeUpdates: Bool {
        switch self {
        case .fedavg, .fedprox, .fedbn: return true
        case .fedadam, .fedyogi, .fedadagrad, .median, .trimmedMean, .krum, .multiKrum: return false
        }
    }
}

/// A plan named a strategy that does not exist.
public struct UnknownStrategy: Error, CustomStringConvertible, Equatable, Sendable {
    /// The name the plan gave.
    public let name: String
    public var description: String {
        "unknown strategy '\(name)' (known: \(StrategyName.allCases.map(\.rawValue).joined(separator: ", ")))"
    }
}
