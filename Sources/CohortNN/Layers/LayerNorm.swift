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
        normalized = .uninitialized(count: x.count)
        invStd = .uninitialized(count: rows)
        var out = [Float].uninitialized(count: x.count)
        let eps = epsilon
        x.data.withUnsafeBufferPointer { src in
            normalized.withUnsafeMutableBufferPointer { xh in
                invStd.withUnsafeMutableBufferPointer { rs in
                    weight.value.data.withUnsafeBufferPointer { w in
                        bias.value.data.withUnsafeBufferPointer { b in
                            out.withUnsafeMutableBufferPointer { o in
                                for r in 0..<rows {
                                    let base = r * f
                                    var mean: Float = 0
                                    for j in 0..<f { mean += src[base + j] }
                                    mean /= Float(f)
                                    var variance: Float = 0
                                    for j in 0..<f { let d = src[base + j] - mean; variance += d * d }
                                    variance /= Float(f)
                                    let inv = 1 / (variance + eps).squareRoot()
                                    rs[r] = inv
                                    for j in 0..<f {
                                        let v = (src[base + j] - mean) * inv
                                        xh[base + j] = v
                                        o[base + j] = v * w[j] + b[j]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    /// `dx = invStd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂))` with `ĝ = dy ⊙ weight`, per row.
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        let f = features, rows = dy.count / f
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
                        for r in 0..<rows {
                            let base = r * f
                            var m1: Float = 0, m2: Float = 0
                            for j in 0..<f { let gh = g[base + j] * w[j]; m1 += gh; m2 += gh * xh[base + j] }
                            m1 /= Float(f); m2 /= Float(f)
                            let inv = invStd[r]
                            for j in 0..<f { d[base + j] = inv * (g[base + j] * w[j] - m1 - xh[base + j] * m2) }
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
