import CohortTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Elementwise activation: ReLU, LeakyReLU, GELU (exact erf form, as PyTorch's default; erf
/// and exp vectorised, see `VectorMath`, within 5e-7 of the C library),
/// ReLU6, SiLU, sigmoid, tanh and hard-swish (PyTorch's `x·relu6(x+3)/6`).
public final class Activation: Layer {
    public let spec: LayerSpec
    public let slope: Float
    private var input = Tensor(shape: [0])

    /// An activation for a `relu`, `leakyrelu`, `gelu`, `relu6`, `silu`, `sigmoid`, `tanh` or
    /// `hardswish` spec.
    public init(spec: LayerSpec) {
        self.spec = spec
        slope = spec.kind == .leakyrelu ? (spec.slope ?? 0.01) : 0
    }

    public func outputShape(for s: [Int]) throws -> [Int] { s }

    /// Splits `0..<count` across the worker pool when large, at multiples of eight, so every
    /// value goes through the same SIMD lane code wherever the split falls.
    private static func forEightAlignedSlices(_ count: Int, _ body: (Int, Int) -> Void) {
        let chunks = (count + 7) / 8
        NormKernels.forRowSlices(rows: chunks, channels: 8) { _, lo, hi in body(lo * 8, min(hi * 8, count)) }
    }

    @inline(__always) private static func sigmoid(_ v: Float) -> Float { 1 / (1 + expf(-v)) }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        // Inference keeps no input for a backward pass.
        input = mode == .inference ? Tensor(shape: [0]) : x
        var out = [Float].uninitialized(count: x.count)
        let a = slope
        x.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { p in
                switch spec.kind {
                case .relu:
                    VectorKernels.relu(count: p.count, x: src.baseAddress!, y: p.baseAddress!)
                case .gelu:
                    let ps = SendablePointer(src.baseAddress!), po = SendableMutablePointer(p.baseAddress!), n = p.count
                    Self.forEightAlignedSlices(n) { lo, hi in VectorMath.gelu(ps.p + lo, po.p + lo, count: hi - lo) }
                case .relu6:
                    for i in 0..<p.count { p[i] = min(max(src[i], 0), 6) }
                case .silu:
                    for i in 0..<p.count { let v = src[i]; p[i] = v * Self.sigmoid(v) }
                case .sigmoid:
                    for i in 0..<p.count { p[i] = Self.sigmoid(src[i]) }
                case .tanh:
                    for i in 0..<p.count { p[i] = tanhf(src[i]) }
                case .hardswish:
                    for i in 0..<p.count { let v = src[i]; p[i] = v * min(max(v + 3, 0), 6) / 6 }
                default:
                    for i in 0..<p.count { let v = src[i]; p[i] = v < 0 ? v * a : v }
                }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        precondition(input.count == dy.count, "\(spec.name): backward needs the training or evaluation forward it follows")
        var dx = [Float].uninitialized(count: dy.count)
        let a = slope
        dx.withUnsafeMutableBufferPointer { d in
            dy.data.withUnsafeBufferPointer { g in
                input.data.withUnsafeBufferPointer { x in
                    switch spec.kind {
                    case .relu:
                        VectorKernels.reluBackward(count: d.count, x: x.baseAddress!, dy: g.baseAddress!, dx: d.baseAddress!)
                    case .gelu:
                        let px = SendablePointer(x.baseAddress!), pg = SendablePointer(g.baseAddress!)
                        let pd = SendableMutablePointer(d.baseAddress!)
                        Self.forEightAlignedSlices(d.count) { lo, hi in
                            VectorMath.geluBackward(px.p + lo, pg.p + lo, pd.p + lo, count: hi - lo)
                        }
                    case .relu6:
                        for i in 0..<d.count { d[i] = x[i] > 0 && x[i] < 6 ? g[i] : 0 }
                    case .silu:
                        for i in 0..<d.count { let v = x[i], s = Self.sigmoid(v); d[i] = g[i] * s * (1 + v * (1 - s)) }
                    case .sigmoid:
                        for i in 0..<d.count { let s = Self.sigmoid(x[i]); d[i] = g[i] * s * (1 - s) }
                    case .tanh:
                        for i in 0..<d.count { let t = tanhf(x[i]); d[i] = g[i] * (1 - t * t) }
                    case .hardswish:
                        // PyTorch's hardswish_backward: 0 below −3, x/3 + 1/2 on [−3, 3], 1 above.
                        for i in 0..<d.count {
                            let v = x[i]
                            d[i] = v < -3 ? 0 : (v <= 3 ? g[i] * (v / 3 + 0.5) : g[i])
                        }
                    default:
                        for i in 0..<d.count { d[i] = x[i] > 0 ? g[i] : g[i] * a }
                    }
                }
            }
        }
        return Tensor(shape: dy.shape, data: dx)
    }
}

/// Inverted dropout: zeroes each value with probability `rate` in training and scales the rest
/// by 1/(1−rate); the identity in evaluation.
public final class Dropout: Layer {
    public let spec: LayerSpec
    public let rate: Float
    private var rng: SeededRandom
    private var mask: [Float] = []
    /// When false the layer is the identity even in training mode (e.g. while AdaBN
    /// re-estimates statistics).
    public var isActive = true
    /// When true, training-mode forward passes reuse the previous mask (same shape), so the
    /// layer is a fixed function: used for finite-difference checks and deterministic replays.
    public var reusesMask = false

    /// A dropout layer drawing its masks from `rng`.
    public init(spec: LayerSpec, rng: SeededRandom) {
        self.spec = spec
        rate = spec.rate ?? 0.5
        self.rng = rng
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard rate >= 0 && rate < 1 else { throw ModelSpecError.layer(spec, "rate must be in [0, 1), got \(rate)") }
        return s
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        guard mode == .training && rate > 0 && isActive else { mask = []; return x }
        let keep = 1 / (1 - rate)
        if !(reusesMask && mask.count == x.count) {
            mask = (0..<x.count).map { _ in rng.uniform() < rate ? 0 : keep }
        }
        return x * Tensor(shape: x.shape, data: mask)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        return mask.isEmpty ? dy : dy * Tensor(shape: dy.shape, data: mask)
    }
}

/// Identity forward, `−λ·gradient` backward (Ganin & Lempitsky's gradient reversal, for DANN).
public final class GradientReversal: Layer {
    public let spec: LayerSpec
    /// The reversal scale; DANN schedules it from 0 up to 1 during training.
    public var lambda: Float

    /// A reversal layer with λ from the spec (default 1).
    public init(spec: LayerSpec) {
        self.spec = spec
        lambda = spec.lambda ?? 1
    }

    public func outputShape(for s: [Int]) throws -> [Int] { s }
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor { x }
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        needsInputGradient ? dy * (-lambda) : nil
    }
}

/// Flattens per-sample NHWC feature maps to vectors in PyTorch's (channel, row, column) order,
/// so a dense layer after it has the same weight layout as in a PyTorch model.
public final class Flatten: Layer {
    public let spec: LayerSpec
    private var inputShape: [Int] = []

    /// A flatten layer.
    public init(spec: LayerSpec) { self.spec = spec }

    public func outputShape(for s: [Int]) throws -> [Int] { [s.reduce(1, *)] }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        inputShape = x.shape
        guard x.rank == 4 else { return x.reshaped([x.rows, x.columns]) }
        let n = x.shape[0], hw = x.shape[1] * x.shape[2], c = x.shape[3]
        var out = [Float].uninitialized(count: x.count)
        x.data.withUnsafeBufferPointer { p in
            for i in 0..<n {
                let base = i * hw * c
                for s in 0..<hw { for j in 0..<c { out[base + j * hw + s] = p[base + s * c + j] } }
            }
        }
        return Tensor(shape: [n, hw * c], data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard inputShape.count == 4 else { return dy.reshaped(inputShape) }
        let n = inputShape[0], hw = inputShape[1] * inputShape[2], c = inputShape[3]
        var dx = [Float].uninitialized(count: dy.count)
        dy.data.withUnsafeBufferPointer { p in
            for i in 0..<n {
                let base = i * hw * c
                for s in 0..<hw { for j in 0..<c { dx[base + s * c + j] = p[base + j * hw + s] } }
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
