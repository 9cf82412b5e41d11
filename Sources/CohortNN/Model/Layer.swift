import CohortTensor

/// Whether a forward pass trains (batch statistics, dropout on) or evaluates.
public enum ForwardMode: Sendable {
    case training
    case evaluation
    /// Evaluation with no backward pass to follow (prediction, benchmarks): layers compute
    /// exactly what `.evaluation` computes but keep nothing for a backward pass, reuse scratch
    /// memory, and `Sequential` may fuse a convolution with the BatchNorm and ReLU after it.
    /// Calling `backward` after an inference-mode forward is a programming error.
    case inference
}

/// One stage of a `Sequential` model with an explicit forward and backward pass.
///
/// Tensors carry the batch in their leading dimension; images are channels-last (NHWC).
/// `forward` caches what `backward` needs; `backward` adds parameter gradients into
/// `Parameter.grad` (skipping frozen ones) and returns the input gradient when asked.
public protocol Layer: AnyObject {
    /// The description this layer was built from (and can be rebuilt from).
    var spec: LayerSpec { get }
    /// Trainable parameters, in a stable order.
    var parameters: [Parameter] { get }
    /// Non-trainable state such as running statistics.
    var buffers: [Buffer] { get }
    /// Per-sample output shape for a per-sample input shape (batch dimension excluded).
    func outputShape(for inputShape: [Int]) throws -> [Int]
    /// Computes the output for a batch.
    func forward(_ input: Tensor, mode: ForwardMode) -> Tensor
    /// Back-propagates `outputGradient` from the last forward call; returns the input gradient
    /// when `needsInputGradient`, else nil (and may skip computing it).
    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor?
}

extension Layer {
    /// The layer's name, from its spec.
    public var name: String { spec.name }
    public var parameters: [Parameter] { [] }
    public var buffers: [Buffer] { [] }
    /// True when any parameter of this layer is trainable.
    public var hasTrainableParameters: Bool { parameters.contains { $0.isTrainable } }
}

/// A graph node reading several inputs (`add`, `concat`). The graph calls the multi-input
/// methods; the single-input `Layer` requirements are there so a merge node sits in the same
/// list as every other layer.
public protocol MergeLayer: Layer {
    /// Per-sample output shape for the inputs' per-sample shapes.
    func outputShape(forInputs shapes: [[Int]]) throws -> [Int]
    /// Computes the output for a batch of each input.
    func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor
    /// The gradient with respect to each input, from the output gradient of the last forward.
    func backwardInputs(_ outputGradient: Tensor) -> [Tensor]
}

extension MergeLayer {
    public func outputShape(for inputShape: [Int]) throws -> [Int] { try outputShape(forInputs: [inputShape]) }
    public func forward(_ input: Tensor, mode: ForwardMode) -> Tensor { forward([input], mode: mode) }
    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        needsInputGradient ? backwardInputs(outputGradient).first : nil
    }
}
