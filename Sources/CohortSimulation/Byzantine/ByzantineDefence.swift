import CohortFederation

/// The defences `cohort simulate --byzantine` compares: the plan's strategy and screening.
public enum ByzantineDefence: String, CaseIterable, Sendable {
    /// FedAvg with screening off (`"screening": {}`): the contrast.
    case fedavgNoBounds = "fedavg-no-bounds"
    /// FedAvg with norm bounds: `UpdateScreeningPlan.standard`.
    case fedavg
    /// The robust strategies, screening off, so they are measured alone.
    case median
    case trimmedMean = "trimmed-mean"
    case krum
    case multiKrum = "multi-krum"

    /// Run when `--defences` is not given (krum, which keeps a single update, is left out).
    public static let defaultSet: [ByzantineDefence] = [.fedavgNoBounds, .fedavg, .median, .trimmedMean, .multiKrum]

    /// The plan's strategy name.
    public var strategy: StrategyName {
        switch self {
        case .fedavgNoBounds, .fedavg: return .fedavg
        case .median: return .median
        case .trimmedMean: return .trimmedMean
        case .krum: return .krum
        case .multiKrum: return .multiKrum
        }
    }

    /// The plan's `screening`: the standard bounds for `fedavg`, off (`{}`) for the others.
    public var screening: UpdateScreeningPlan { self == .fedavg ? .standard : UpdateScreeningPlan() }

    /// Sets the strategy and screening on `plan`.
    public func apply(to plan: inout TrainingPlan) {
        plan.strategy = strategy.rawValue
        plan.screening = screening
    }

    /// One line for the report.
    public var summary: String {
        switch self {
        case .fedavgNoBounds: return "FedAvg, screening off (\"screening\": {})"
        case .fedavg: return "FedAvg with the standard screening (reject over 5× the round's median norm, sample weight capped at 2× the median count)"
        case .median: return "coordinate-wise median, screening off"
        case .trimmedMean: return "trimmed mean (20%, at least one each end from 3 updates), screening off"
        case .krum: return "Krum (the single update closest to its neighbours), screening off"
        case .multiKrum: return "Multi-Krum (mean of the n − f updates closest to their neighbours), screening off"
        }
    }
}
