import CohortFederation

/// The defences `cohort simulate --byzantine` compares: the plan's strategy and screening.
public enum ByzantineDefence: String, CaseIterable, Sendable {
    /// FedAvg with screening off (`"screening": {}`: not even the default norm guard): the contrast.
    case fedavgNoBounds = "fedavg-no-bounds"
    /// FedAvg with a plan that names no screening: the coordinator's default norm guard
    /// (`UpdateNormGuard`: reject over the smaller of 10× max(1, ‖model‖) and 50× the previous
    /// round's median norm; no weight cap).
    case fedavgDefaultGuard = "fedavg-default-guard"
    /// FedAvg with norm bounds: `UpdateScreeningPlan.standard`.
    case fedavg
    /// The robust strategies, screening off, so they are measured alone.
    case median
    case trimmedMean = "trimmed-mean"
    case krum
    case multiKrum = "multi-krum"

    /// Run when `--defences` is not given (krum, which keeps a single update, is left out).
    public static let defaultSet: [ByzantineDefence] = [.fedavgNoBounds, .fedavgDefaultGuard, .fedavg, .median, .trimmedMean, .multiKrum]

    /// The plan's strategy name.
    public var strategy: StrategyName {
        switch self {
        case .fedavgNoBounds, .fedavgDefaultGuard, .fedavg: return .fedavg
        case .median: return .median
        case .trimmedMean: return .trimmedMean
        case .krum: return .krum
        case .multiKrum: return .multiKrum
        }
    }

    /// The plan's `screening`: the standard bounds for `fedavg`, none (the default norm guard)
    /// for `fedavg-default-guard`, off (`{}`) for the others.
    public var screening: UpdateScreeningPlan? {
        switch self {
        case .fedavg: return .standard
        case .fedavgDefaultGuard: return nil
        default: return UpdateScreeningPlan()
        }
    }

    /// Sets the strategy and screening on `plan`.
    public func apply(to plan: inout TrainingPlan) {
        plan.strategy = strategy.rawValue
        plan.screening = screening
    }

    /// One line for the report.
    public var summary: String {
        switch self {
        case .fedavgNoBounds: return "FedAvg, screening off (\"screening\": {}, no norm guard)"
        case .fedavgDefaultGuard: return "FedAvg, plan without screening: the default norm guard (reject over min(10× max(1, ‖model‖), 50× the previous round's median norm), streaming; no weight cap)"
        case .fedavg: return "FedAvg with the standard screening (reject over 5× the round's median norm, sample weight capped at 2× the median count)"
        case .median: return "coordinate-wise median, screening off"
        case .trimmedMean: return "trimmed mean (20%, at least one each end from 3 updates), screening off"
        case .krum: return "Krum (the single update closest to its neighbours), screening off"
        case .multiKrum: return "Multi-Krum (mean of the n − f updates closest to their neighbours), screening off"
        }
    }
}
