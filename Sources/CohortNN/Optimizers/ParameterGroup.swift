/// Parameters that share a learning rate and weight decay (discriminative fine-tuning gives the
/// backbone a smaller rate than the new head).
public struct ParameterGroup {
    public var parameters: [Parameter]
    public var learningRate: Float
    public var weightDecay: Float

    /// A group; frozen parameters in it are skipped at each step.
    public init(parameters: [Parameter], learningRate: Float, weightDecay: Float = 0) {
        precondition(learningRate >= 0 && learningRate.isFinite, "learning rate must be finite and ≥ 0, got \(learningRate)")
        precondition(weightDecay >= 0, "weight decay must be ≥ 0, got \(weightDecay)")
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }

    /// Groups by name prefix, in order; a parameter joins the first group whose prefix it has
    /// (see `Sequential.name(_:hasPrefix:)`); the rest form a last group with the defaults.
    public static func byPrefix(_ parameters: [Parameter], rules: [(prefix: String, learningRate: Float, weightDecay: Float)],
                                defaultLearningRate: Float, defaultWeightDecay: Float = 0) -> [ParameterGroup] {
        var buckets = [[Parameter]](repeating: [], count: rules.count)
        var rest: [Parameter] = []
        for p in parameters {
            if let i = rules.firstIndex(where: { Sequential.name(p.name, hasPrefix: $0.prefix) }) { buckets[i].append(p) } else { rest.append(p) }
        }
        var groups = zip(rules, buckets).map { ParameterGroup(parameters: $1, learningRate: $0.learningRate, weightDecay: $0.weightDecay) }
        if !rest.isEmpty { groups.append(ParameterGroup(parameters: rest, learningRate: defaultLearningRate, weightDecay: defaultWeightDecay)) }
        return groups
    }
}

/// Updates parameters from their gradients.
public protocol Optimizer: AnyObject {
    /// The parameter groups with their base learning rates.
    var groups: [ParameterGroup] { get set }
    /// Applies one update with every group's rate multiplied by `learningRateScale` (from a
    /// schedule). Frozen parameters are left bit-for-bit unchanged.
    func step(learningRateScale: Float)
    /// Readies the gradients for the next backward pass (zeroes them, unless the optimizer
    /// keeps its state in them: `GradientMomentumSGD`).
    func zeroGrad()
}

extension Optimizer {
    /// One update at the base learning rates.
    public func step() { step(learningRateScale: 1) }
    /// Calls `update(parameter, learningRate, weightDecay)` for every trainable parameter of
    /// every group, the group's rate multiplied by `learningRateScale`; frozen ones are skipped.
    public func forEachTrainable(learningRateScale: Float, _ update: (Parameter, Float, Float) -> Void) {
        for group in groups {
            let lr = group.learningRate * learningRateScale
            for p in group.parameters where p.isUpdated { update(p, lr, group.weightDecay) }
        }
    }

    /// Zeroes the gradients of every parameter in every group.
    public func zeroGrad() { for g in groups { for p in g.parameters { p.zeroGrad() } } }
}
