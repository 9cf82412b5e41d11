/// What a node will produce and hold, computed from its description alone.
public struct NodeCheck: Equatable, Sendable {
    /// Per-sample output shape.
    public var outputShape: [Int]
    /// Scalar parameters and buffers the node will allocate.
    public var parameterCount: Int
}

/// Validates every field of a node against its input shapes before anything is allocated,
/// and computes its output shape and parameter count with overflow-checked arithmetic.
/// Errors name the node and the field.
public enum LayerCheck {
    /// Largest kernel, stride, dilation, padding, head count or group count accepted.
    static let fieldLimit = 1 << 16

    /// Checks `spec` reading per-sample `inputShapes` (one per input node).
    public static func check(_ spec: LayerSpec, inputShapes: [[Int]], budget: ModelBudget = .standard) throws -> NodeCheck {
        let fail = { (problem: String) in ModelSpecError.layer(spec, problem) }
        if spec.kind.isMerge {
            guard inputShapes.count >= 2 else { throw fail("needs at least 2 inputs, gets \(inputShapes.count)") }
        } else if inputShapes.count != 1 {
            throw fail("reads exactly 1 input, gets \(inputShapes.count) (\(spec.sources ?? []))")
        }
        if let units = spec.units, units > budget.maxValuesPerSample {
            throw fail("'units' \(units) is larger than the budget of \(budget.maxValuesPerSample) values per sample")
        }
        let s = inputShapes[0]
        let result = try shapeAndCount(spec, s, inputShapes, fail)
        guard let values = SizeMath.product(result.outputShape, limit: budget.maxValuesPerSample),
              result.outputShape.allSatisfy({ $0 > 0 }) else {
            throw fail("output shape \(result.outputShape) is empty or larger than \(budget.maxValuesPerSample) values per sample")
        }
        _ = values
        guard result.parameterCount <= budget.maxParameters else {
            throw fail("needs \(result.parameterCount) parameters, more than the budget of \(budget.maxParameters)")
        }
        return result
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private static func shapeAndCount(_ spec: LayerSpec, _ s: [Int], _ all: [[Int]],
                                      _ fail: (String) -> ModelSpecError) throws -> NodeCheck {
        func field(_ value: Int?, _ name: String, default def: Int? = nil, min: Int = 1) throws -> Int {
            guard let v = value ?? def else { throw fail("missing field '\(name)'") }
            guard v >= min else { throw fail("'\(name)' must be ≥ \(min), got \(v)") }
            guard v <= fieldLimit || name == "units" || name == "index" else { throw fail("'\(name)' \(v) is larger than \(fieldLimit)") }
            return v
        }
        func rate(_ value: Float?) throws {
            if let r = value, !(r >= 0 && r < 1) { throw fail("'rate' must be in [0, 1), got \(r)") }
        }
        func count(_ dims: [Int]...) throws -> Int {
            var total = 0
            for d in dims where !d.isEmpty { // an absent tensor (no bias), not a scalar
                guard let p = SizeMath.product(d), let t = SizeMath.sum(total, p) else { throw fail("parameter count overflows") }
                total = t
            }
            return total
        }
        func needImage() throws -> (h: Int, w: Int, c: Int) {
            guard s.count == 3 else { throw fail("needs [height, width, channels] input, gets \(s)") }
            return (s[0], s[1], s[2])
        }
        func needTokens() throws -> (t: Int, d: Int) {
            guard s.count == 2 else { throw fail("needs [tokens, features] input, gets \(s)") }
            return (s[0], s[1])
        }
        func epsilon() throws {
            if let e = spec.epsilon, !(e > 0 && e < 1) { throw fail("'epsilon' must be in (0, 1), got \(e)") }
        }
        func declared(_ inferred: Int) throws {
            if let given = spec.inputs, given != inferred {
                throw fail("declares \(given) inputs but the previous layer gives \(inferred)")
            }
        }
        switch spec.kind {
        case .dense:
            let units = try field(spec.units, "units")
            guard let inputs = SizeMath.product(s) else { throw fail("input shape \(s) is too large") }
            try declared(inputs)
            return NodeCheck(outputShape: [units], parameterCount: try count([units, inputs], spec.bias ?? true ? [units] : []))
        case .linear:
            let units = try field(spec.units, "units")
            guard let f = s.last else { throw fail("needs a non-empty input shape") }
            try declared(f)
            return NodeCheck(outputShape: s.dropLast() + [units], parameterCount: try count([units, f], spec.bias ?? true ? [units] : []))
        case .conv2d:
            let units = try field(spec.units, "units")
            let (h, w, c) = try needImage()
            try declared(c)
            let k = try field(spec.kernel, "kernel", default: 3)
            let g = try field(spec.groups, "groups", default: 1)
            guard c % g == 0, units % g == 0 else {
                throw fail("'groups' \(g) must divide the input channels \(c) and the output channels \(units)")
            }
            let (oh, ow) = try window(spec, h: h, w: w, kernel: k, defaultStride: 1, fail)
            let params = try count([units, c / g, k, k], spec.bias ?? true ? [units] : [])
            return NodeCheck(outputShape: [oh, ow, units], parameterCount: params)
        case .maxpool2d, .avgpool2d:
            let (h, w, c) = try needImage()
            let k = try field(spec.kernel, "kernel", default: 2)
            let (oh, ow) = try window(spec, h: h, w: w, kernel: k, defaultStride: k, fail)
            let p = try padding(spec, fail)
            guard max(p.top, p.bottom, p.left, p.right) <= k / 2 else {
                throw fail("padding must be at most half the window \(k) (a window of padding alone has no value)")
            }
            return NodeCheck(outputShape: [oh, ow, c], parameterCount: 0)
        case .globalavgpool:
            return NodeCheck(outputShape: [try needImage().c], parameterCount: 0)
        case .adaptiveavgpool:
            let (h, w, c) = try needImage()
            let o = try field(spec.outputSize, "outputSize", default: 1)
            guard o <= h && o <= w else { throw fail("'outputSize' \(o) is larger than the input \(h)×\(w)") }
            return NodeCheck(outputShape: [o, o, c], parameterCount: 0)
        case .batchnorm1d, .batchnorm2d:
            try epsilon()
            if let m = spec.momentum, !(m >= 0 && m <= 1) { throw fail("'momentum' must be in [0, 1], got \(m)") }
            let rank = spec.kind == .batchnorm2d ? 3 : 1
            guard s.count == rank, let c = s.last else {
                throw fail("expects a per-sample shape of rank \(rank) with channels last, gets \(s)")
            }
            try declared(c)
            return NodeCheck(outputShape: s, parameterCount: try count([4, c]))
        case .layernorm:
            try epsilon()
            guard let f = s.last else { throw fail("needs a non-empty input shape") }
            return NodeCheck(outputShape: s, parameterCount: try count([2, f]))
        case .groupnorm:
            try epsilon()
            let (_, _, c) = try needImage()
            let g = try field(spec.groups, "groups")
            guard c % g == 0 else { throw fail("'groups' \(g) must divide the channels \(c)") }
            return NodeCheck(outputShape: s, parameterCount: try count([2, c]))
        case .dropout, .droppath:
            try rate(spec.rate)
            return NodeCheck(outputShape: s, parameterCount: 0)
        case .relu, .leakyrelu, .gelu, .relu6, .silu, .sigmoid, .tanh, .hardswish, .identity, .gradientreversal:
            if let l = spec.lambda, !l.isFinite { throw fail("'lambda' must be finite") }
            if let l = spec.slope, !l.isFinite { throw fail("'slope' must be finite") }
            return NodeCheck(outputShape: s, parameterCount: 0)
        case .softmax:
            _ = try axis(spec, rank: s.count, fail)
            return NodeCheck(outputShape: s, parameterCount: 0)
        case .flatten:
            guard let n = SizeMath.product(s) else { throw fail("input shape \(s) is too large") }
            return NodeCheck(outputShape: [n], parameterCount: 0)
        case .reshape:
            guard let target = spec.shape, !target.isEmpty else { throw fail("missing field 'shape'") }
            guard let total = SizeMath.product(s) else { throw fail("input shape \(s) is too large") }
            let free = target.filter { $0 == -1 }.count
            guard free <= 1, target.allSatisfy({ $0 == -1 || $0 > 0 }) else {
                throw fail("'shape' \(target) must hold positive sizes and at most one -1")
            }
            guard let known = SizeMath.product(target.filter { $0 != -1 }), known > 0 else { throw fail("'shape' \(target) is too large") }
            let out = target.map { $0 == -1 ? total / known : $0 }
            guard SizeMath.product(out) == total else { throw fail("cannot reshape \(s) (\(total) values) to \(target)") }
            return NodeCheck(outputShape: out, parameterCount: 0)
        case .add:
            guard all.allSatisfy({ $0 == s }) else { throw fail("inputs must have the same shape to add, got \(all)") }
            return NodeCheck(outputShape: s, parameterCount: 0)
        case .concat:
            let a = try axis(spec, rank: s.count, fail)
            var total = 0
            for shape in all {
                guard shape.count == s.count, zip(shape, s).enumerated().allSatisfy({ $0.offset == a || $0.element.0 == $0.element.1 }) else {
                    throw fail("inputs must match on every axis but \(a) to concatenate, got \(all)")
                }
                guard let t = SizeMath.sum(total, shape[a]) else { throw fail("concatenated size overflows") }
                total = t
            }
            var out = s
            out[a] = total
            return NodeCheck(outputShape: out, parameterCount: 0)
        case .attention:
            let (_, d) = try needTokens()
            let heads = try field(spec.heads, "heads")
            guard d % heads == 0 else { throw fail("'heads' \(heads) must divide the features \(d)") }
            if let layout = spec.layout, layout != "timm" && layout != "torch" {
                throw fail("'layout' must be \"timm\" or \"torch\", got \"\(layout)\"")
            }
            return NodeCheck(outputShape: s, parameterCount: try count([4, d, d], spec.bias ?? true ? [4, d] : []))
        case .clstoken:
            let (t, d) = try needTokens()
            return NodeCheck(outputShape: [t + 1, d], parameterCount: d)
        case .posembed:
            let (t, d) = try needTokens()
            return NodeCheck(outputShape: s, parameterCount: try count([t, d]))
        case .selecttoken:
            let (t, d) = try needTokens()
            let i = try field(spec.index, "index", default: 0, min: 0)
            guard i < t else { throw fail("'index' \(i) is outside the \(t) tokens") }
            return NodeCheck(outputShape: [d], parameterCount: 0)
        }
    }

    /// The normalised per-sample axis of a concat or softmax node (default: the last).
    static func axis(_ spec: LayerSpec, rank: Int, _ fail: (String) -> ModelSpecError) throws -> Int {
        let a = spec.axis ?? (rank - 1)
        let normalised = a < 0 ? a + rank : a
        guard rank > 0, normalised >= 0, normalised < rank else { throw fail("'axis' \(a) is outside a per-sample rank of \(rank)") }
        return normalised
    }

    /// Output height and width of a sliding window (convolution or pooling) over `h`×`w`.
    static func window(_ spec: LayerSpec, h: Int, w: Int, kernel k: Int, defaultStride: Int,
                       _ fail: (String) -> ModelSpecError) throws -> (Int, Int) {
        let stride = spec.stride ?? defaultStride
        guard stride >= 1, stride <= fieldLimit else { throw fail("'stride' must be in 1...\(fieldLimit), got \(stride)") }
        let dilation = spec.dilation ?? 1
        guard dilation >= 1, dilation <= fieldLimit else { throw fail("'dilation' must be in 1...\(fieldLimit), got \(dilation)") }
        let pads = try padding(spec, fail)
        let span = dilation * (k - 1) + 1
        let oh = (h + pads.top + pads.bottom - span), ow = (w + pads.left + pads.right - span)
        guard oh >= 0, ow >= 0 else {
            let symmetric = pads.top == pads.bottom && pads.left == pads.right && pads.top == pads.left
            let padText = symmetric ? "\(pads.top)" : "[\(pads.top), \(pads.bottom), \(pads.left), \(pads.right)]"
            throw fail("kernel \(k)\(dilation == 1 ? "" : " (dilation \(dilation))") does not fit input \(h)×\(w) with padding \(padText)")
        }
        return (oh / stride + 1, ow / stride + 1)
    }

    /// The node's padding `(top, bottom, left, right)` from `pads` or `padding`.
    public static func padding(_ spec: LayerSpec, _ fail: (String) -> ModelSpecError) throws -> (top: Int, bottom: Int, left: Int, right: Int) {
        if let p = spec.pads {
            guard p.count == 4, p.allSatisfy({ $0 >= 0 && $0 <= fieldLimit }) else {
                throw fail("'pads' must be [top, bottom, left, right] in 0...\(fieldLimit), got \(p)")
            }
            return (p[0], p[1], p[2], p[3])
        }
        let p = spec.padding ?? 0
        guard p >= 0, p <= fieldLimit else { throw fail("'padding' must be in 0...\(fieldLimit), got \(p)") }
        return (p, p, p, p)
    }
}
