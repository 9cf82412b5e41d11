import CohortCheckpoint
import CohortTensor

/// Adaptive federated optimisation (Reddi et al. 2021): FedAdam, FedYogi, FedAdagrad. The
/// weighted mean delta Δ is a pseudo-gradient; the server keeps moments across rounds:
/// `m = β₁m + (1−β₁)Δ`; `v` = Adam: `β₂v + (1−β₂)Δ²`, Yogi: `v − (1−β₂)Δ²·sign(v − Δ²)`,
/// Adagrad: `v + Δ²`; then `x ← x + η·m / (√v + τ)`.
public final class ServerOptimizer: AggregationStrategy {
    /// Which second-moment rule.
    public enum Kind: String, Sendable { case adam = "fedadam", yogi = "fedyogi", adagrad = "fedadagrad" }

    public let kind: Kind
    public var name: String { kind.rawValue }
    public let learningRate: Float, beta1: Float, beta2: Float, tau: Float
    private let state = StreamingRound()
    private var m: [String: [Float]] = [:]
    private var v: [String: [Float]] = [:]

    /// A server optimizer; defaults follow Reddi et al. (η = 0.01·…, τ = 1e-3).
    public init(_ kind: Kind, learningRate: Float = 0.1, beta1: Float = 0.9, beta2: Float = 0.99, tau: Float = 1e-3) {
        precondition(learningRate > 0 && tau > 0, "server learning rate and τ must be positive")
        self.kind = kind
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.tau = tau
    }

    public func begin(round: Int, global: [String: Tensor]) { state.begin(global: global) }

    public func accumulate(_ delta: ModelDelta, samples: Int) throws { try state.accumulate(delta, samples: samples) }

    public var updateCount: Int { state.sum.count }

    public var recordFolding: RecordFolding? { state.sum }

    public func finish() throws -> [String: Tensor] {
        try state.requireUpdates(self.name)
        var step: [String: Tensor] = [:]
        for (name, delta) in state.sum.mean() {
            let n = delta.count
            var mm = m[name] ?? [Float](repeating: 0, count: n)
            // τ² start keeps the first step bounded (as in the reference implementation).
            var vv = v[name] ?? [Float](repeating: tau * tau, count: n)
            var out = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let d = delta.data[i], d2 = d * d
                mm[i] = beta1 * mm[i] + (1 - beta1) * d
                switch kind {
                case .adam: vv[i] = beta2 * vv[i] + (1 - beta2) * d2
                case .yogi: vv[i] = vv[i] - (1 - beta2) * d2 * (vv[i] - d2 > 0 ? 1 : (vv[i] - d2 < 0 ? -1 : 0))
                case .adagrad: vv[i] = vv[i] + d2
                }
                out[i] = mm[i] / (vv[i].squareRoot() + tau)
            }
            m[name] = mm; v[name] = vv
            step[name] = Tensor(shape: [n], data: out)
        }
        return apply(mean: step, to: state.global, scale: learningRate)
    }
}

extension ServerOptimizer: PersistentStrategyState {
    /// The moments, as `m/<tensor>` and `v/<tensor>` in name order.
    public func savedState() -> [(name: String, value: Tensor)] {
        m.keys.sorted().flatMap { name in
            [("m/" + name, Tensor(shape: [m[name]!.count], data: m[name]!)), ("v/" + name, Tensor(shape: [v[name]!.count], data: v[name]!))]
        }
    }

    public func restore(_ state: [(name: String, value: Tensor)]) throws {
        var moments: [String: [Float]] = [:], seconds: [String: [Float]] = [:]
        for (key, tensor) in state {
            if key.hasPrefix("m/") { moments[String(key.dropFirst(2))] = tensor.data }
            else if key.hasPrefix("v/") { seconds[String(key.dropFirst(2))] = tensor.data }
            else { throw AggregationError("\(name) state: unexpected tensor '\(key)' (expected m/<name> and v/<name>)") }
        }
        for (key, first) in moments {
            guard let second = seconds[key], second.count == first.count else {
                throw AggregationError("\(name) state: tensor '\(key)' has a first moment without a matching second moment")
            }
        }
        guard Set(moments.keys) == Set(seconds.keys) else {
            throw AggregationError("\(name) state: first and second moments name different tensors")
        }
        m = moments
        v = seconds
    }
}
