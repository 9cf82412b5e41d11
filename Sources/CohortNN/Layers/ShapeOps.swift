import CohortTensor

/// Passes its input through unchanged (a named point in the graph, e.g. a feature cut).
public final class Identity: Layer {
    public let spec: LayerSpec

    /// An `identity` node.
    public init(spec: LayerSpec) { self.spec = spec }

    public func outputShape(for s: [Int]) throws -> [Int] { s }
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor { x }
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? { needsInputGradient ? dy : nil }
}

/// Reinterprets each sample's values (row-major, channels last) under another shape, e.g. a
/// patch-embedding's `[h, w, d]` as `[h·w, d]` tokens, in the order PyTorch's
/// `flatten(2).transpose(1, 2)` gives on NCHW.
public final class Reshape: Layer {
    public let spec: LayerSpec
    private let target: [Int]
    private var inputShape: [Int] = []

    /// A `reshape` node producing per-sample `outputShape` (checked by `LayerCheck`).
    public init(spec: LayerSpec, outputShape: [Int]) {
        self.spec = spec
        target = outputShape
    }

    public func outputShape(for s: [Int]) throws -> [Int] { try LayerCheck.check(spec, inputShapes: [s]).outputShape }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        inputShape = x.shape
        return x.reshaped([x.rows] + target)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        needsInputGradient ? dy.reshaped(inputShape) : nil
    }
}
