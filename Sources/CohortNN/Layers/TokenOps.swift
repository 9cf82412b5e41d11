import CohortTensor

/// Prepends a learned class token to each sample's tokens: `[T, D] → [T+1, D]`.
/// The parameter is named exactly the node name (timm's `cls_token`), shape `[1, 1, D]`,
/// initialised like timm (normal, std 1e-6).
public final class ClassToken: Layer {
    public let spec: LayerSpec
    public let token: Parameter
    public let features: Int

    /// A class token of `features` values.
    public init(spec: LayerSpec, features: Int, rng: inout SeededRandom) {
        self.spec = spec
        self.features = features
        token = Parameter(name: spec.name, value: Tensor(shape: [1, 1, features], data: (0..<features).map { _ in rng.normal() * 1e-6 }))
    }

    public var parameters: [Parameter] { [token] }

    public func outputShape(for s: [Int]) throws -> [Int] { try LayerCheck.check(spec, inputShapes: [s]).outputShape }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        let n = x.rows, t = x.shape[1], d = features
        var out = [Float].uninitialized(count: n * (t + 1) * d)
        x.data.withUnsafeBufferPointer { src in
            token.value.data.withUnsafeBufferPointer { cls in
                out.withUnsafeMutableBufferPointer { o in
                    for i in 0..<n {
                        let dst = o.baseAddress! + i * (t + 1) * d
                        dst.update(from: cls.baseAddress!, count: d)
                        (dst + d).update(from: src.baseAddress! + i * t * d, count: t * d)
                    }
                }
            }
        }
        return Tensor(shape: [n, t + 1, d], data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        let n = dy.rows, t = dy.shape[1] - 1, d = features
        if token.isTrainable {
            dy.data.withUnsafeBufferPointer { g in
                token.grad.data.withUnsafeMutableBufferPointer { tg in
                    for i in 0..<n { VectorKernels.axpy(count: d, alpha: 1, x: g.baseAddress! + i * (t + 1) * d, y: tg.baseAddress!) }
                }
            }
        }
        guard needsInputGradient else { return nil }
        var dx = [Float].uninitialized(count: n * t * d)
        dy.data.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { p in
                for i in 0..<n { (p.baseAddress! + i * t * d).update(from: g.baseAddress! + i * (t + 1) * d + d, count: t * d) }
            }
        }
        return Tensor(shape: [n, t, d], data: dx)
    }
}

/// Adds a learned position embedding to each sample's tokens (`[T, D]`, shape kept).
/// The parameter is named exactly the node name (timm's `pos_embed`), shape `[1, T, D]`,
/// initialised like timm (normal, std 0.02, truncated at ±2 std).
public final class PositionEmbedding: Layer {
    public let spec: LayerSpec
    public let embedding: Parameter

    /// A position embedding for `tokens` tokens of `features` values.
    public init(spec: LayerSpec, tokens: Int, features: Int, rng: inout SeededRandom) {
        self.spec = spec
        embedding = Parameter(name: spec.name, value: Tensor(shape: [1, tokens, features],
                                                             data: (0..<(tokens * features)).map { _ in min(max(rng.normal(), -2), 2) * 0.02 }))
    }

    public var parameters: [Parameter] { [embedding] }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s == Array(embedding.value.shape.dropFirst()) else {
            throw ModelSpecError.layer(spec, "expects tokens of shape \(Array(embedding.value.shape.dropFirst())), gets \(s)")
        }
        return s
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        let per = embedding.value.count, n = x.count / per
        var out = x.data
        embedding.value.data.withUnsafeBufferPointer { e in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<n { VectorKernels.axpy(count: per, alpha: 1, x: e.baseAddress!, y: o.baseAddress! + i * per) }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        if embedding.isTrainable {
            let per = embedding.value.count, n = dy.count / per
            dy.data.withUnsafeBufferPointer { g in
                embedding.grad.data.withUnsafeMutableBufferPointer { eg in
                    for i in 0..<n { VectorKernels.axpy(count: per, alpha: 1, x: g.baseAddress! + i * per, y: eg.baseAddress!) }
                }
            }
        }
        return needsInputGradient ? dy : nil
    }
}

/// Takes one token of each sample: `[T, D] → [D]` (`index` 0: the class token).
public final class SelectToken: Layer {
    public let spec: LayerSpec
    public let index: Int
    private var inputShape: [Int] = []

    /// A `selecttoken` node.
    public init(spec: LayerSpec) {
        self.spec = spec
        index = spec.index ?? 0
    }

    public func outputShape(for s: [Int]) throws -> [Int] { try LayerCheck.check(spec, inputShapes: [s]).outputShape }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        inputShape = x.shape
        let n = x.rows, t = x.shape[1], d = x.shape[2]
        var out = [Float].uninitialized(count: n * d)
        x.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<n { (o.baseAddress! + i * d).update(from: src.baseAddress! + (i * t + index) * d, count: d) }
            }
        }
        return Tensor(shape: [n, d], data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        let n = inputShape[0], t = inputShape[1], d = inputShape[2]
        var dx = [Float](repeating: 0, count: n * t * d)
        dy.data.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { p in
                for i in 0..<n { (p.baseAddress! + (i * t + index) * d).update(from: g.baseAddress! + i * d, count: d) }
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
