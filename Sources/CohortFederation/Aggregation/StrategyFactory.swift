import CohortNN

/// Builds the aggregation strategy a plan names.
public enum StrategyFactory {
    /// The strategy the coordinator runs for `plan`: under `plan.privacy`, the DP-FedAvg wrapper
    /// (clip, equal weights, fixed denominator, noise) over the plan's averaging strategy, whose
    /// local tensors (FedBN's BatchNorm) it leaves out; with `plan.effectiveScreening` (bounds the plan
    /// names), `base` behind the screening wrapper; otherwise `base`. Under privacy σ must be set
    /// (`privacy.noiseMultiplier`; the coordinator fills it from a target ε). `model` is built
    /// only when the plan needs its tensor names (FedBN, privacy): a large model's weights and
    /// gradients are not allocated only to be dropped (issue 19: a coordinator's memory).
    public static func make(_ plan: TrainingPlan, model makeModel: @autoclosure () throws -> Sequential) throws -> AggregationStrategy {
        guard let privacy = plan.privacy else {
            let strategy = try base(plan, model: try makeModel())
            return plan.effectiveScreening.map { ScreenedAggregation(base: strategy, plan: $0) } ?? strategy
        }
        let name = try plan.strategyName
        guard name.averagesWholeUpdates else {
            throw AggregationError("privacy needs strategy fedavg, fedprox or fedbn (equal-weight averaging), got '\(name.rawValue)'")
        }
        guard let sigma = privacy.noiseMultiplier else {
            throw AggregationError("privacy.noiseMultiplier is not set (give it, or targetEpsilon for the coordinator to choose it)")
        }
        let model = try makeModel()
        let localNames = plan.localTensorNames(of: model)
        let dp = DPFedAvg(clipNorm: privacy.clipNorm, noiseMultiplier: sigma, localNames: localNames)
        dp.noisedNames = plan.sentTensorNames(of: model).subtracting(localNames)
        return dp
    }

    /// The strategy `plan.strategy` names, without privacy; FedBN needs the model to know its
    /// BatchNorm tensors (`model` is built only for FedBN).
    public static func base(_ plan: TrainingPlan, model makeModel: @autoclosure () throws -> Sequential) throws -> AggregationStrategy {
        switch try plan.strategyName {
        case .fedavg: return FedAvg()
        case .fedprox: return FedAvg(proximalMu: plan.proximalMu)
        case .fedbn: return FedBN(base: FedAvg(), localNames: FedBN.batchNormNames(of: try makeModel()))
        case .fedadam: return ServerOptimizer(.adam)
        case .fedyogi: return ServerOptimizer(.yogi)
        case .fedadagrad: return ServerOptimizer(.adagrad)
        case .median: return RobustAggregation(.median)
        case .trimmedMean: return RobustAggregation(.trimmedMean(trim: 0.2))
        case .krum: return Krum(multi: false)
        case .multiKrum: return Krum(multi: true)
        }
    }
}
