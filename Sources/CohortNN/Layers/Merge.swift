import CohortTensor

/// Elementwise sum of two or more inputs of one shape (a residual connection).
public final class Add: MergeLayer {
    public let spec: LayerSpec
    private var inputCount = 0

    /// An `add` node.
    public init(spec: LayerSpec) { self.spec = spec }

    public func outputShape(forInputs shapes: [[Int]]) throws -> [Int] {
        try LayerCheck.check(spec, inputShapes: shapes.count == 1 ? shapes + shapes : shapes).outputShape
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        inputCount = inputs.count
        if inputs.count == 2 {
            // One pass `a + b` into a fresh buffer (copying `a` and then adding `b` read `a`
            // twice); the same values as `axpy` with scale 1.
            let a = inputs[0], b = inputs[1]
            precondition(a.shape == b.shape, "\(spec.name): add of shapes \(a.shape) and \(b.shape)")
            var out = [Float].uninitialized(count: a.count)
            a.data.withUnsafeBufferPointer { ap in
                b.data.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { o in
                        VectorKernels.sum(count: o.count, ap.baseAddress!, bp.baseAddress!, into: o.baseAddress!)
                    }
                }
            }
            return Tensor(shape: a.shape, data: out)
        }
        var out = inputs[0]
        for x in inputs.dropFirst() { out.add(x) }
        return out
    }

    public func backwardInputs(_ dy: Tensor) -> [Tensor] { Array(repeating: dy, count: inputCount) }
}

/// Concatenation of two or more inputs along one per-sample axis (channels by default).
public final class Concat: MergeLayer {
    public let spec: LayerSpec
    private var widths: [Int] = []
    private var outer = 0, inner = 0

    /// A `concat` node.
    public init(spec: LayerSpec) { self.spec = spec }

    public func outputShape(forInputs shapes: [[Int]]) throws -> [Int] {
        try LayerCheck.check(spec, inputShapes: shapes.count == 1 ? shapes + shapes : shapes).outputShape
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        let rank = inputs[0].rank - 1
        let a = (spec.axis.map { $0 < 0 ? $0 + rank : $0 } ?? rank - 1) + 1
        outer = inputs[0].shape[..<a].reduce(1, *)
        inner = inputs[0].shape[(a + 1)...].reduce(1, *)
        widths = inputs.map { $0.shape[a] * inner }
        let row = widths.reduce(0, +)
        var out = [Float].uninitialized(count: outer * row)
        out.withUnsafeMutableBufferPointer { o in
            var offset = 0
            for (x, width) in zip(inputs, widths) {
                x.data.withUnsafeBufferPointer { p in
                    for r in 0..<outer { (o.baseAddress! + r * row + offset).update(from: p.baseAddress! + r * width, count: width) }
                }
                offset += width
            }
        }
        var shape = inputs[0].shape
        shape[a] = row / inner
        return Tensor(shape: shape, data: out)
    }

    public func backwardInputs(_ dy: Tensor) -> [Tensor] {
        let row = widths.reduce(0, +)
        var offset = 0
        var grads: [Tensor] = []
        dy.data.withUnsafeBufferPointer { g in
            for width in widths {
                var part = [Float].uninitialized(count: outer * width)
                part.withUnsafeMutableBufferPointer { p in
                    for r in 0..<outer { (p.baseAddress! + r * width).update(from: g.baseAddress! + r * row + offset, count: width) }
                }
                grads.append(Tensor(shape: concatShape(dy.shape, width: width), data: part))
                offset += width
            }
        }
        return grads
    }

    /// The shape of one input's gradient: the output's shape with the concatenated axis narrowed.
    private func concatShape(_ shape: [Int], width: Int) -> [Int] {
        let rank = shape.count - 1
        let a = (spec.axis.map { $0 < 0 ? $0 + rank : $0 } ?? rank - 1) + 1
        var s = shape
        s[a] = width / inner
        return s
    }
}
