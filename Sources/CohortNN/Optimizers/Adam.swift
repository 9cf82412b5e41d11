import CohortTensor

/// Adam (Kingma & Ba) with bias correction. `decoupledWeightDecay` makes it AdamW
/// (Loshchilov & Hutter: `w −= lr·λ·w` apart from the adaptive step); otherwise weight decay
/// is added to the gradient as L2, as PyTorch's `Adam(weight_decay:)`.
public final class Adam: Optimizer {
    public var groups: [ParameterGroup]
    public let beta1: Float, beta2: Float, epsilon: Float
    public let decoupledWeightDecay: Bool
    private var moments: [ObjectIdentifier: AdamState] = [:]

    /// Per-parameter moment estimates; a class so updates happen in place.
    private final class AdamState {
        var m: [Float], v: [Float], t = 0
        init(count: Int) { m = [Float](repeating: 0, count: count); v = m }
    }

    /// Adam, or AdamW when `decoupledWeightDecay`.
    public init(groups: [ParameterGroup], beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                decoupledWeightDecay: Bool = false) {
        precondition(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "Adam betas must be in [0, 1)")
        self.groups = groups
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    /// AdamW: Adam with decoupled weight decay.
    public static func adamW(groups: [ParameterGroup], beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) -> Adam {
        Adam(groups: groups, beta1: beta1, beta2: beta2, epsilon: epsilon, decoupledWeightDecay: true)
    }

    public func step(learningRateScale: Float) {
        forEachTrainable(learningRateScale: learningRateScale) { p, lr, wd in
            let n = p.value.count
            let key = ObjectIdentifier(p)
            let state = moments[key] ?? AdamState(count: n)
            moments[key] = state
            state.t += 1
            let c1 = 1 - powf(beta1, Float(state.t)), c2 = 1 - powf(beta2, Float(state.t))
            for i in 0..<n {
                var g = p.grad.data[i]
                if !decoupledWeightDecay { g += wd * p.value.data[i] }
                state.m[i] = beta1 * state.m[i] + (1 - beta1) * g
                state.v[i] = beta2 * state.v[i] + (1 - beta2) * g * g
                let update = (state.m[i] / c1) / ((state.v[i] / c2).squareRoot() + epsilon)
                if decoupledWeightDecay { p.value.data[i] -= lr * wd * p.value.data[i] }
                p.value.data[i] -= lr * update
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
