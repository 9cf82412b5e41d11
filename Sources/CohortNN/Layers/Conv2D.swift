import CohortTensor

/// 2-D convolution on NHWC input via im2col + GEMM. Weight `[out, in, k, k]` as in PyTorch.
public final class Conv2D: Layer {
    public let spec: LayerSpec
    public let weight: Parameter
    public let bias: Parameter?
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int, stride: Int, padding: Int
    private var geometry: ConvGeometry?
    private var inputShape: [Int] = []
    private var cols: [Float] = []
    /// The weight permuted to im2col column order `[out, kh, kw, in]`, rebuilt each forward.
    private var patchWeight: [Float] = []

    /// A layer initialised like PyTorch's `Conv2d` (uniform in ±1/√(in·k·k)).
    public init(spec: LayerSpec, inChannels: Int, rng: inout SeededRandom) {
        self.spec = spec
        self.inChannels = inChannels
        outChannels = spec.units!
        kernel = spec.kernel ?? 3
        stride = spec.stride ?? 1
        padding = spec.padding ?? 0
        let fanIn = inChannels * kernel * kernel
        let bound = 1 / Float(fanIn).squareRoot()
        let count = outChannels * fanIn
        weight = Parameter(name: spec.name + ".weight",
                           value: Tensor(shape: [outChannels, inChannels, kernel, kernel], data: (0..<count).map { _ in rng.uniform(-bound, bound) }))
        bias = (spec.bias ?? true)
            ? Parameter(name: spec.name + ".bias", value: Tensor(shape: [outChannels], data: (0..<outChannels).map { _ in rng.uniform(-bound, bound) }))
            : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    private func geometry(batch: Int, shape: [Int]) -> ConvGeometry {
        ConvGeometry(batch: batch, height: shape[0], width: shape[1], channels: shape[2],
                     kernelHeight: kernel, kernelWidth: kernel, stride: stride, padding: padding)
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw ModelSpecError.layer(spec, "expects [height, width, channels] input, gets \(s)") }
        guard s[2] == inChannels else { throw ModelSpecError.layer(spec, "expects \(inChannels) input channels, gets \(s[2])") }
        let g = geometry(batch: 1, shape: s)
        guard g.isValid else { throw ModelSpecError.layer(spec, "kernel \(kernel) does not fit input \(s) with padding \(padding)") }
        return [g.outHeight, g.outWidth, outChannels]
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 4 && x.shape[3] == inChannels,
                     "\(spec.name): expects NHWC input with \(inChannels) channels, got \(x.shape)")
        let g = geometry(batch: x.shape[0], shape: Array(x.shape.dropFirst()))
        geometry = g
        inputShape = x.shape
        let positions = g.outputPositions, patch = g.patchSize
        if cols.count != positions * patch { cols = [Float](repeating: 0, count: positions * patch) }
        x.data.withUnsafeBufferPointer { px in
            cols.withUnsafeMutableBufferPointer { pc in ConvKernels.im2col(g, x: px.baseAddress!, cols: pc.baseAddress!) }
        }
        var out = [Float].uninitialized(count: positions * outChannels)
        if let bias {
            out.withUnsafeMutableBufferPointer { o in
                bias.value.data.withUnsafeBufferPointer { b in
                    for r in 0..<positions { (o.baseAddress! + r * outChannels).update(from: b.baseAddress!, count: outChannels) }
                }
            }
        }
        if patchWeight.count != weight.value.count { patchWeight = [Float](repeating: 0, count: weight.value.count) }
        weight.value.data.withUnsafeBufferPointer { w in
            patchWeight.withUnsafeMutableBufferPointer { pw in
                ConvKernels.permuteWeightToPatchOrder(w.baseAddress!, out: outChannels, inChannels: inChannels,
                                                      kernelArea: kernel * kernel, into: pw.baseAddress!)
            }
        }
        Gemm.multiply(transA: false, transB: true, m: positions, n: outChannels, k: patch, a: cols, lda: patch,
                      b: patchWeight, ldb: patch, beta: bias == nil ? 0 : 1, c: &out, ldc: outChannels)
        return Tensor(shape: [g.batch, g.outHeight, g.outWidth, outChannels], data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let g = geometry else { preconditionFailure("\(spec.name): backward before forward") }
        let positions = g.outputPositions, patch = g.patchSize
        if weight.isTrainable {
            var patchGrad = [Float].uninitialized(count: weight.value.count)
            Gemm.multiply(transA: true, transB: false, m: outChannels, n: patch, k: positions, a: dy.data, lda: outChannels,
                          b: cols, ldb: patch, c: &patchGrad, ldc: patch)
            patchGrad.withUnsafeBufferPointer { g in
                weight.grad.data.withUnsafeMutableBufferPointer { d in
                    ConvKernels.addPatchOrderGradient(g.baseAddress!, out: outChannels, inChannels: inChannels,
                                                      kernelArea: kernel * kernel, into: d.baseAddress!)
                }
            }
        }
        if let bias, bias.isTrainable { bias.grad.add(dy.reshaped([positions, outChannels]).sumRows()) }
        guard needsInputGradient else { return nil }
        // The forward pass's im2col buffer is dead now: reuse it for the column gradient.
        Gemm.multiply(transA: false, transB: false, m: positions, n: patch, k: outChannels, a: dy.data, lda: outChannels,
                      b: patchWeight, ldb: patch, c: &cols, ldc: patch)
        var dx = [Float](repeating: 0, count: inputShape.reduce(1, *))
        cols.withUnsafeBufferPointer { pc in
            dx.withUnsafeMutableBufferPointer { pd in ConvKernels.col2im(g, cols: pc.baseAddress!, dx: pd.baseAddress!) }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
