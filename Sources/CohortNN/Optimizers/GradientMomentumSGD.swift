import CohortTensor

/// SGD with momentum whose velocity lives in the parameters' gradient buffers, so training
/// holds two copies of the trained weights' size (weights, velocity) instead of three
/// (weights, gradient, velocity): what lets a federated node train a large model within 3× its
/// size while keeping the received global model for its delta (issue 19).
///
/// The same update as `SGD(momentum: μ)` (PyTorch's `v = μv + g + λw`, `w −= lr·v`), reordered:
/// `zeroGrad()` scales each updated parameter's gradient buffer (holding v) by μ instead of
/// zeroing it, backward passes accumulate g into it (gradients accumulate, as `Parameter.grad`
/// documents), and `step` adds λw and moves the weights. The first `zeroGrad()` zeroes, so
/// velocity starts at 0 whatever the buffers held. Equal to `SGD` up to float rounding (the
/// sums are formed in another order), not bit for bit. `step` scales the velocity by μ as it
/// writes it, for the next `zeroGrad` (which then leaves those buffers alone): one pass over
/// the weights and the velocity per step instead of two (a 1.2 GB model's zeroGrad was
/// 0.05–0.2 s a step). Between `step` and the next `zeroGrad`, a gradient buffer holds μ·v.
///
/// Only for gradients that are pure sums of backward passes and additive terms (L2-SP): not
/// for code that rewrites or reads the gradient itself (DP-SGD's per-example clipping, a LoRA
/// base weight's gradient that its adapters learn from), and not Nesterov.
public final class GradientMomentumSGD: Optimizer {
    public var groups: [ParameterGroup]
    public let momentum: Float
    private var started = false
    /// The parameters whose velocity the last `step` already scaled by μ.
    private var prescaled: Set<ObjectIdentifier> = []

    /// An optimizer over `groups` with momentum in [0, 1).
    public init(groups: [ParameterGroup], momentum: Float) throws {
        guard momentum >= 0 && momentum < 1 else { throw TrainingError("momentum must be in [0, 1), got \(momentum)") }
        self.groups = groups
        self.momentum = momentum
    }

    /// Scales the velocity held in each updated parameter's gradient by μ (zeroes every
    /// gradient the first time, and those of parameters this optimizer does not update).
    public func zeroGrad() {
        let mu = momentum
        for group in groups {
            for p in group.parameters {
                guard started && p.isUpdated else { p.zeroGrad(); continue }
                guard !prescaled.contains(ObjectIdentifier(p)) else { continue }
                let n = p.grad.count
                p.grad.data.withUnsafeMutableBufferPointer { v in
                    guard let base = v.baseAddress else { return }
                    let pv = SendableMutablePointer(base)
                    let tasks = n >= 1 << 15 ? WorkerPool.shared.width : 1
                    WorkerPool.shared.run(tasks: tasks) { t in
                        let lo = n * t / tasks, hi = n * (t + 1) / tasks
                        for i in lo..<hi { pv.p[i] *= mu }
                    }
                }
            }
        }
        started = true
        prescaled = []
    }

    /// `v += λw`, `w −= lr·v` for every trainable parameter, v being its gradient buffer,
    /// which is left holding μ·v for the next `zeroGrad`.
    public func step(learningRateScale: Float) {
        let mu = momentum
        var scaled: Set<ObjectIdentifier> = []
        defer { prescaled = started ? scaled : [] }   // before the first zeroGrad, that one zeroes
        forEachTrainable(learningRateScale: learningRateScale) { p, lr, wd in
            scaled.insert(ObjectIdentifier(p))
            let n = p.value.count
            p.value.data.withUnsafeMutableBufferPointer { w in
                p.grad.data.withUnsafeMutableBufferPointer { v in
                    guard let wb = w.baseAddress, let vb = v.baseAddress else { return }
                    let pw = SendableMutablePointer(wb), pv = SendableMutablePointer(vb)
                    let tasks = n >= 1 << 15 ? WorkerPool.shared.width : 1
                    WorkerPool.shared.run(tasks: tasks) { t in
                        let lo = n * t / tasks, hi = n * (t + 1) / tasks
                        for i in lo..<hi {
                            let vi = pv.p[i] + wd * pw.p[i]
                            pw.p[i] -= lr * vi
                            pv.p[i] = vi * mu
                        }
                    }
                }
            }
        }
    }
}
