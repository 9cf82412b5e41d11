import CohortTensor

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay
/// (PyTorch's formulation: `v = μv + g + λw`, `w −= lr·v`, or `w −= lr·(g + λw + μv)` with Nesterov).
public final class SGD: Optimizer {
    public var groups: [ParameterGroup]
    public let momentum: Float
    public let nesterov: Bool
    private var velocity: [ObjectIdentifier: [Float]] = [:]

    /// An optimizer over `groups`.
    public init(groups: [ParameterGroup], momentum: Float = 0, nesterov: Bool = false) {
        precondition(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got \(momentum)")
        precondition(!nesterov || momentum > 0, "Nesterov momentum needs momentum > 0")
        self.groups = groups
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public func step(learningRateScale: Float) {
        for group in groups {
            let lr = group.learningRate * learningRateScale, wd = group.weightDecay
            for p in group.parameters where p.isTrainable {
                let n = p.value.count
                var v = momentum > 0 ? (velocity[ObjectIdentifier(p)] ?? [Float](repeating: 0, count: n)) : []
                p.value.data.withUnsafeMutableBufferPointer { w in
                    p.grad.data.withUnsafeBufferPointer { g in
                        if momentum == 0 {
                            for i in 0..<n { w[i] -= lr * (g[i] + wd * w[i]) }
                            return
                        }
                        v.withUnsafeMutableBufferPointer { vel in
                            for i in 0..<n {
                                let d = g[i] + wd * w[i]
                                vel[i] = momentum * vel[i] + d
                                w[i] -= lr * (nesterov ? d + momentum * vel[i] : vel[i])
                            }
                        }
                    }
                }
                if momentum > 0 { velocity[ObjectIdentifier(p)] = v }
            }
        }
    }
}
