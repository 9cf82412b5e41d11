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
        forEachTrainable(learningRateScale: learningRateScale) { p, lr, wd in
            let n = p.value.count
            let key = ObjectIdentifier(p)
            if velocity[key] == nil { velocity[key] = [Float](repeating: 0, count: n) }
            // Momentum 0 keeps a zero velocity, which reduces the update to plain SGD.
            let mu = momentum, nesterov = nesterov
            p.value.data.withUnsafeMutableBufferPointer { w in
                p.grad.data.withUnsafeBufferPointer { g in
                    velocity[key]!.withUnsafeMutableBufferPointer { v in
                        let pw = SendableMutablePointer(w.baseAddress!), pv = SendableMutablePointer(v.baseAddress!)
                        let pg = SendablePointer(g.baseAddress!)
                        // Large tensors are split across the pool: elements are independent.
                        let tasks = n >= 1 << 15 ? WorkerPool.shared.width : 1
                        WorkerPool.shared.run(tasks: tasks) { t in
                            let lo = n * t / tasks, hi = n * (t + 1) / tasks
                            VectorKernels.sgdMomentumStep(count: hi - lo, learningRate: lr, momentum: mu, weightDecay: wd,
                                                          nesterov: nesterov, weights: pw.p + lo,
                                                          gradient: pg.p + lo, velocity: pv.p + lo)
                        }
                    }
                }
            }
        }
    }
}
