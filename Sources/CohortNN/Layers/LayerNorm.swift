import CohortTensor

/// Layer normalisation over the last axis (PyTorch's `LayerNorm(features)`):
/// `y = (x − mean) / √(var + eps) · weight + bias`, biased variance, statistics per row.
/// The same in training and evaluation. Parameters `<name>.weight` (ones) and `<name>.bias`
/// (zeros), marked `isNormalization` like BatchNorm's (TENT adapts those).
public final class LayerNorm: Layer {
    public let spec: LayerSpec
    public let weight: Parameter
    public let bias: Parameter
    public let features: Int
    public let epsilon: Float
    private var normalized: [Float] = []
    private var invStd: [Float] = []
    private var inputShape: [Int] = []

    /// A layer norm over `features` values (the input's last axis); eps defaults to 1e-5.
    public init(spec: LayerSpec, features: Int) {
        self.spec = spec
        self.features = features
        epsilon = spec.epsilon ?? 1e-5
        weight = Parameter(name: spec.name + ".weight", value: Tensor(shape: [features], repeating: 1), isNormalization: true)
        bias = Parameter(name: spec.name + ".bias", value: Tensor(shape: [features]), isNormalization: true)
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.last == features else { throw ModelSpecError.layer(spec, "expects \(features) features on the last axis, gets \(s)") }
        return s
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        let f = features, rows = x.count / f
        inputShape = x.shape
        let keep = mode != .inference
        // Inference keeps nothing for a backward pass.
        normalized = keep ? .uninitialized(count: x.count) : []
        invStd = keep ? .uninitialized(count: rows) : []
        var out = [Float].uninitialized(count: x.count)
        x.data.withUnsafeBufferPointer { src in
            normalized.withUnsafeMutableBufferPointer { xh in
                invStd.withUnsafeMutableBufferPointer { rs in
                    out.withUnsafeMutableBufferPointer { o in
                        LayerNormKernels.forward(rows: rows, features: f, x: src.baseAddress!, gamma: weight.value.data,
                                                 beta: bias.value.data, epsilon: epsilon,
                                                 normalized: keep ? xh.baseAddress! : nil, inverseStd: keep ? rs.baseAddress! : nil,
                                                 y: o.baseAddress!)
                    }
                }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    /// `dx = invStd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂))` with `ĝ = dy ⊙ weight`, per row.
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        let f = features, rows = dy.count / f
        precondition(normalized.count == dy.count, "\(spec.name): backward needs the training or evaluation forward it follows")
        var dw = [Float](repeating: 0, count: f), db = [Float](repeating: 0, count: f)
        var dx = needsInputGradient ? [Float].uninitialized(count: dy.count) : []
        dy.data.withUnsafeBufferPointer { g in
            normalized.withUnsafeBufferPointer { xh in
                weight.value.data.withUnsafeBufferPointer { w in
                    for r in 0..<rows {
                        let base = r * f
                        for j in 0..<f { dw[j] += g[base + j] * xh[base + j]; db[j] += g[base + j] }
                    }
                    guard needsInputGradient else { return }
                    dx.withUnsafeMutableBufferPointer { d in
                        invStd.withUnsafeBufferPointer { rs in
                            LayerNormKernels.backwardInput(rows: rows, features: f, dy: g.baseAddress!, normalized: xh.baseAddress!,
                                                           gamma: w.baseAddress!, inverseStd: rs.baseAddress!, dx: d.baseAddress!)
                        }
                    }
                }
            }
        }
        if weight.isTrainable { weight.grad.add(Tensor(shape: [f], data: dw)) }
        if bias.isTrainable { bias.grad.add(Tensor(shape: [f], data: db)) }
        return needsInputGradient ? Tensor(shape: inputShape, data: dx) : nil
    }
}
