import CohortTensor

/// Max or average pooling over NHWC input with a square window (stride defaults to the window)
/// and zero padding that may differ per side. As in PyTorch, max pooling never picks a padding
/// cell and average pooling counts padding cells as zeros (`count_include_pad=True`): the
/// divisor is always the window area.
public final class Pool2D: Layer {
    public let spec: LayerSpec
    public let kernel: Int, stride: Int
    /// Zero padding `(top, bottom, left, right)`.
    public let pads: (top: Int, bottom: Int, left: Int, right: Int)
    private var geometry: ConvGeometry?
    private var argmax: [Int32] = []
    private var inputShape: [Int] = []
    private var isMax: Bool { spec.kind == .maxpool2d }

    /// A pooling layer for a `maxpool2d` or `avgpool2d` spec.
    public init(spec: LayerSpec) throws {
        self.spec = spec
        kernel = spec.kernel ?? 2
        stride = spec.stride ?? kernel
        pads = try LayerCheck.padding(spec) { ModelSpecError.layer(spec, $0) }
        guard kernel > 0, stride > 0 else { throw ModelSpecError.layer(spec, "'kernel' and 'stride' must be positive") }
    }

    private func geometry(batch: Int, shape: [Int]) -> ConvGeometry {
        ConvGeometry(batch: batch, height: shape[0], width: shape[1], channels: shape[2],
                     kernelHeight: kernel, kernelWidth: kernel, stride: stride, pads: pads, dilation: 1)
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw ModelSpecError.layer(spec, "expects [height, width, channels] input, gets \(s)") }
        let g = geometry(batch: 1, shape: s)
        guard g.isValid else { throw ModelSpecError.layer(spec, "window \(kernel) does not fit input \(s)") }
        return [g.outHeight, g.outWidth, s[2]]
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 4, "\(spec.name): expects NHWC input, got \(x.shape)")
        let g = geometry(batch: x.shape[0], shape: Array(x.shape.dropFirst()))
        geometry = g
        inputShape = x.shape
        let outCount = g.outputPositions * g.channels
        var out = [Float].uninitialized(count: outCount)
        x.data.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                if isMax {
                    if argmax.count != outCount { argmax = [Int32](repeating: 0, count: outCount) }
                    argmax.withUnsafeMutableBufferPointer { pa in
                        PoolKernels.maxForward(g, x: px.baseAddress!, y: po.baseAddress!, argmax: pa.baseAddress!)
                    }
                } else {
                    PoolKernels.averageForward(g, x: px.baseAddress!, y: po.baseAddress!)
                }
            }
        }
        return Tensor(shape: [g.batch, g.outHeight, g.outWidth, g.channels], data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard let g = geometry else { preconditionFailure("\(spec.name): backward before forward") }
        var dx = [Float].uninitialized(count: inputShape.reduce(1, *))
        dy.data.withUnsafeBufferPointer { pdy in
            dx.withUnsafeMutableBufferPointer { pdx in
                if isMax {
                    argmax.withUnsafeBufferPointer { pa in
                        PoolKernels.maxBackward(outputCount: dy.count, inputCount: pdx.count, dy: pdy.baseAddress!,
                                                argmax: pa.baseAddress!, dx: pdx.baseAddress!)
                    }
                } else {
                    PoolKernels.averageBackward(g, dy: pdy.baseAddress!, dx: pdx.baseAddress!)
                }
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}

/// Mean over all spatial positions: `[n, h, w, c]` → `[n, c]`.
public final class GlobalAvgPool: Layer {
    public let spec: LayerSpec
    private var inputShape: [Int] = []

    /// A global-average-pooling layer.
    public init(spec: LayerSpec) { self.spec = spec }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw ModelSpecError.layer(spec, "expects [height, width, channels] input, gets \(s)") }
        return [s[2]]
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 4, "\(spec.name): expects NHWC input, got \(x.shape)")
        inputShape = x.shape
        let n = x.shape[0], hw = x.shape[1] * x.shape[2], c = x.shape[3]
        var out = [Float](repeating: 0, count: n * c)
        let inv = 1 / Float(hw)
        x.data.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<n {
                    for s in 0..<hw { VectorKernels.axpy(count: c, alpha: inv, x: p.baseAddress! + (i * hw + s) * c, y: o.baseAddress! + i * c) }
                }
            }
        }
        return Tensor(shape: [n, c], data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        let n = inputShape[0], hw = inputShape[1] * inputShape[2], c = inputShape[3]
        var dx = [Float].uninitialized(count: n * hw * c)
        let inv = 1 / Float(hw)
        for i in 0..<n { for s in 0..<hw { for j in 0..<c { dx[(i * hw + s) * c + j] = dy.data[i * c + j] * inv } } }
        return Tensor(shape: inputShape, data: dx)
    }
}

/// PyTorch's `AdaptiveAvgPool2d` to a square `outputSize`: output cell `(i, j)` averages input
/// rows `⌊i·H/o⌋ ..< ⌈(i+1)·H/o⌉` and the same columns over `W`. `[n, h, w, c]` → `[n, o, o, c]`.
public final class AdaptiveAvgPool: Layer {
    public let spec: LayerSpec
    /// Output height and width.
    public let outputSize: Int
    private var inputShape: [Int] = []

    /// An adaptive average pooling layer (`outputSize` defaults to 1).
    public init(spec: LayerSpec) throws {
        self.spec = spec
        outputSize = spec.outputSize ?? 1
        guard outputSize > 0 else { throw ModelSpecError.layer(spec, "'outputSize' must be ≥ 1, got \(outputSize)") }
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw ModelSpecError.layer(spec, "expects [height, width, channels] input, gets \(s)") }
        guard outputSize <= s[0], outputSize <= s[1] else {
            throw ModelSpecError.layer(spec, "'outputSize' \(outputSize) is larger than the input \(s[0])×\(s[1])")
        }
        return [outputSize, outputSize, s[2]]
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] >= outputSize && x.shape[2] >= outputSize,
                     "\(spec.name): expects NHWC input at least \(outputSize)×\(outputSize), got \(x.shape)")
        inputShape = x.shape
        let n = x.shape[0], c = x.shape[3]
        var out = [Float].uninitialized(count: n * outputSize * outputSize * c)
        x.data.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                PoolKernels.adaptiveAverageForward(batch: n, height: x.shape[1], width: x.shape[2], channels: c,
                                                   outSize: outputSize, x: px.baseAddress!, y: po.baseAddress!)
            }
        }
        return Tensor(shape: [n, outputSize, outputSize, c], data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        var dx = [Float].uninitialized(count: inputShape.reduce(1, *))
        dy.data.withUnsafeBufferPointer { pdy in
            dx.withUnsafeMutableBufferPointer { pdx in
                PoolKernels.adaptiveAverageBackward(batch: inputShape[0], height: inputShape[1], width: inputShape[2],
                                                    channels: inputShape[3], outSize: outputSize,
                                                    dy: pdy.baseAddress!, dx: pdx.baseAddress!)
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
