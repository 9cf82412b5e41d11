import CohortTensor

/// L2-SP (Li et al. 2018): a penalty `α/2·‖w − w⁰‖²` pulling fine-tuned weights toward their
/// pre-trained values `w⁰`, plus `β/2·‖w‖²` on parameters that have no pre-trained value
/// (a new head). Its gradient is added to the parameters' gradients before the optimizer step.
public final class L2SP {
    public let alpha: Float
    public let beta: Float
    private var reference: [String: Tensor]

    /// Captures the current values of `parameters` as the pre-trained reference.
    public init(reference parameters: [Parameter], alpha: Float, beta: Float = 0) {
        precondition(alpha >= 0 && beta >= 0, "L2-SP strengths must be ≥ 0")
        self.alpha = alpha
        self.beta = beta
        reference = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) })
    }

    /// Adds the penalty's gradient to every trainable parameter and returns the penalty value.
    @discardableResult
    public func addGradient(to parameters: [Parameter]) -> Float {
        var penalty: Float = 0
        for p in parameters where p.isUpdated {
            if let w0 = reference[p.name], w0.shape == p.value.shape {
                let diff = p.value - w0
                penalty += 0.5 * alpha * diff.squaredNorm()
                p.grad.add(diff, scaledBy: alpha)
            } else if beta > 0 {
                penalty += 0.5 * beta * p.value.squaredNorm()
                p.grad.add(p.value, scaledBy: beta)
            }
        }
        return penalty
    }
}
