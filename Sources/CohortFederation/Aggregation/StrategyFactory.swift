import CohortNN

/// Builds the aggregation strategy a plan names.
public enum StrategyFactory {
    /// The strategy for `plan.strategy`; FedBN needs the model to know its BatchNorm tensors.
    public static func make(_ plan: TrainingPlan, model: Sequential) throws -> AggregationStrategy {
        switch plan.strategy {
        case "fedavg": return FedAvg()
        case "fedprox": return FedAvg(proximalMu: plan.proximalMu)
        case "fedbn": return FedBN(base: FedAvg(), localNames: FedBN.batchNormNames(of: model))
        case "fedadam": return ServerOptimizer(.adam)
        case "fedyogi": return ServerOptimizer(.yogi)
        case "fedadagrad": return ServerOptimizer(.adagrad)
        case "median": return RobustAggregation(.median)
        case "trimmed-mean": return RobustAggregation(.trimmedMean(trim: 0.2))
        default: throw AggregationError("unknown strategy '\(plan.strategy)'")
        }
    }
}
