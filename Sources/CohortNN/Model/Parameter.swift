import CohortTensor

/// A trainable tensor with its gradient. Layers own parameters; optimizers update them.
public final class Parameter {
    /// Stable dotted name, e.g. `features.0.weight`.
    public let name: String
    /// Current value.
    public var value: Tensor
    /// Gradient accumulated by backward passes since the last `zeroGrad()`.
    public var grad: Tensor
    /// A frozen parameter (false) is never updated and gets no gradient.
    public var isTrainable = true
    /// True for normalisation affine parameters (BatchNorm, LayerNorm, GroupNorm): TENT adapts
    /// these. (FedBN selects BatchNorm layers by type.)
    public let isNormalization: Bool

    /// A parameter with a zero gradient of the same shape.
    public init(name: String, value: Tensor, isNormalization: Bool = false) {
        self.name = name
        self.value = value
        self.grad = Tensor(shape: value.shape)
        self.isNormalization = isNormalization
    }

    /// Sets the gradient to zero.
    public func zeroGrad() { grad.fill(0) }
}

/// A non-trainable tensor a layer keeps as state, e.g. BatchNorm running statistics.
public final class Buffer {
    /// Stable dotted name, e.g. `bn1.running_mean`.
    public let name: String
    /// Current value.
    public var value: Tensor

    /// A named buffer.
    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
    }
}
