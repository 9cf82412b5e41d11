import CohortTensor

/// Group normalisation on channels-last images `[H, W, C]` with PyTorch's `GroupNorm(groups, C)`
/// semantics: the channels split into `groups` consecutive groups, each normalised per sample
/// over its `H·W·C/groups` values (biased variance), then a per-channel affine. The same in
/// training and evaluation. Parameters `<name>.weight` (ones) and `<name>.bias` (zeros), marked
/// `isNormalization` like BatchNorm's (TENT adapts those).
public final class GroupNorm: Layer {
    public let spec: LayerSpec
    public let weight: Parameter
    public let bias: Parameter
    public let channels: Int
    public let groups: Int
    public let epsilon: Float
    private var normalized: [Float] = []
    private var invStd: [Float] = []
    private var inputShape: [Int] = []

    /// A group norm over `channels` channels in `spec.groups` groups; eps defaults to 1e-5.
    public init(spec: LayerSpec, channels: Int) {
        self.spec = spec
        self.channels = channels
        groups = spec.groups ?? 1
        epsilon = spec.epsilon ?? 1e-5
        weight = Parameter(name: spec.name + ".weight", value: Tensor(shape: [channels], repeating: 1), isNormalization: true)
        bias = Parameter(name: spec.name + ".bias", value: Tensor(shape: [channels]), isNormalization: true)
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func outputShape(for s: [Int]) throws -> [Int] { try LayerCheck.check(spec, inputShapes: [s]).outputShape }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        let c = channels, g = groups, cg = c / g
        let n = x.rows, hw = x.count / max(1, n * c)
        let size = Float(hw * cg)
        inputShape = x.shape
        normalized = .uninitialized(count: x.count)
        invStd = .uninitialized(count: n * g)
        var out = [Float].uninitialized(count: x.count)
        let eps = epsilon
        x.data.withUnsafeBufferPointer { src in
            normalized.withUnsafeMutableBufferPointer { xh in
                weight.value.data.withUnsafeBufferPointer { w in
                    bias.value.data.withUnsafeBufferPointer { b in
                        out.withUnsafeMutableBufferPointer { o in
                            for i in 0..<n {
                                let sample = i * hw * c
                                for q in 0..<g {
                                    let c0 = q * cg
                                    var mean: Float = 0
                                    for s in 0..<hw { for j in 0..<cg { mean += src[sample + s * c + c0 + j] } }
                                    mean /= size
                                    var variance: Float = 0
                                    for s in 0..<hw { for j in 0..<cg { let d = src[sample + s * c + c0 + j] - mean; variance += d * d } }
                                    variance /= size
                                    let inv = 1 / (variance + eps).squareRoot()
                                    invStd[i * g + q] = inv
                                    for s in 0..<hw {
                                        for j in 0..<cg {
                                            let at = sample + s * c + c0 + j
                                            let v = (src[at] - mean) * inv
                                            xh[at] = v
                                            o[at] = v * w[c0 + j] + b[c0 + j]
                                        }
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

    /// Per (sample, group): `dx = invStd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂))`, `ĝ = dy ⊙ weight`.
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        let c = channels, g = groups, cg = c / g
        let n = dy.rows, hw = dy.count / max(1, n * c)
        let size = Float(hw * cg)
        var dw = [Float](repeating: 0, count: c), db = [Float](repeating: 0, count: c)
        var dx = needsInputGradient ? [Float].uninitialized(count: dy.count) : []
        dy.data.withUnsafeBufferPointer { gr in
            normalized.withUnsafeBufferPointer { xh in
                weight.value.data.withUnsafeBufferPointer { w in
                    for r in 0..<(n * hw) {
                        let base = r * c
                        for j in 0..<c { dw[j] += gr[base + j] * xh[base + j]; db[j] += gr[base + j] }
                    }
                    guard needsInputGradient else { return }
                    dx.withUnsafeMutableBufferPointer { d in
                        for i in 0..<n {
                            let sample = i * hw * c
                            for q in 0..<g {
                                let c0 = q * cg
                                var m1: Float = 0, m2: Float = 0
                                for s in 0..<hw {
                                    for j in 0..<cg {
                                        let at = sample + s * c + c0 + j
                                        let gh = gr[at] * w[c0 + j]
                                        m1 += gh; m2 += gh * xh[at]
                                    }
                                }
                                m1 /= size; m2 /= size
                                let inv = invStd[i * g + q]
                                for s in 0..<hw {
                                    for j in 0..<cg {
                                        let at = sample + s * c + c0 + j
                                        d[at] = inv * (gr[at] * w[c0 + j] - m1 - xh[at] * m2)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if weight.isTrainable { weight.grad.add(Tensor(shape: [c], data: dw)) }
        if bias.isTrainable { bias.grad.add(Tensor(shape: [c], data: db)) }
        return needsInputGradient ? Tensor(shape: inputShape, data: dx) : nil
    }
}
