import CohortTensor

/// 2-D convolution on NHWC input. Weight `[out, in/groups, k, k]` as in PyTorch.
///
/// Three paths, chosen once from the description:
/// - `groups == 1` (any stride, dilation, padding): one im2col + GEMM over the whole batch;
/// - depthwise (`groups == in`, `out = multiplier · in`): a direct SIMD kernel over channels
///   (`DepthwiseKernels`); with a multiplier > 1 each input channel is first repeated
///   `multiplier` times, as PyTorch orders the outputs of a group together;
/// - other group counts: im2col of each group's channel slice + one GEMM per group.
///
/// 3×3 stride-1 undilated convolutions with `groups == 1` run as Winograd F(2×2, 3×3)
/// (`WinogradKernels`, 2.25× fewer multiply-adds) in every mode, backward included, unless
/// `winograd` is false or `COHORT_WINOGRAD=0` is set.
public final class Conv2D: Layer {
    public let spec: LayerSpec
    public let weight: Parameter
    public let bias: Parameter?
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int, stride: Int, groups: Int, dilation: Int
    /// Zero padding `(top, bottom, left, right)`.
    public let pads: (top: Int, bottom: Int, left: Int, right: Int)
    /// Depthwise convolutions use the direct kernel (default); false runs the grouped im2col
    /// path instead, kept to compare the two in benchmarks.
    public var directDepthwise = true
    /// 3×3 stride-1 convolutions use Winograd F(2×2, 3×3) (default); false runs im2col + GEMM
    /// instead, kept to compare the two.
    public var winograd = true
    private var geometry: ConvGeometry?
    private var inputShape: [Int] = []
    private var cols: [Float] = []
    /// The weight in the layout its path multiplies with: im2col column order
    /// `[out, kh, kw, in/groups]`, or cell-major `[kh·kw, out]` for the direct depthwise kernel.
    /// Rebuilt when the weight's version or the path changes.
    private var patchWeight: [Float] = []
    /// The weight version and path (`isDepthwise`) `patchWeight` was built from.
    private var patchWeightKey: (version: Int, depthwise: Bool)?
    /// Depthwise path: the input it ran on (channels repeated when the multiplier is > 1).
    private var depthwiseInput: [Float] = []
    /// Winograd path: the transformed weight `[16][out][in]` and the weight version it is of.
    private var winogradWeight: [Float] = []
    private var winogradWeightVersion: Int?
    /// Winograd path: the last training or evaluation forward's transformed input, which its
    /// backward reads (and overwrites); empty after an inference-mode forward.
    private var winogradInput: [Float] = []
    /// True while `winogradInput` holds a forward's transformed input no backward has used.
    private var winogradInputSaved = false
    /// True when the last forward ran the Winograd path.
    private var ranWinograd = false

    private var isDepthwise: Bool { groups > 1 && groups == inChannels && directDepthwise }
    private var kernelArea: Int { kernel * kernel }
    private var groupIn: Int { inChannels / groups }
    private var groupOut: Int { outChannels / groups }

    /// A layer initialised like PyTorch's `Conv2d` (uniform in ±1/√(in/groups·k·k)). The spec
    /// must have passed `LayerCheck` (the factory does that). With `initialization: .zeros`
    /// the weights are zeros and `rng` is untouched.
    public init(spec: LayerSpec, inChannels: Int, rng: inout SeededRandom, initialization: WeightInitialization = .seeded) throws {
        self.spec = spec
        self.inChannels = inChannels
        guard let units = spec.units else { throw ModelSpecError.layer(spec, "missing field 'units'") }
        outChannels = units
        kernel = spec.kernel ?? 3
        stride = spec.stride ?? 1
        groups = spec.groups ?? 1
        dilation = spec.dilation ?? 1
        pads = try LayerCheck.padding(spec) { ModelSpecError.layer(spec, $0) }
        guard kernel > 0, stride > 0, groups > 0, dilation > 0, inChannels % groups == 0, units % groups == 0 else {
            throw ModelSpecError.layer(spec, "kernel, stride, dilation and groups must be positive and groups must divide the channels")
        }
        let fanIn = inChannels / groups * kernel * kernel
        let bound = 1 / Float(fanIn).squareRoot()
        let count = outChannels * fanIn
        weight = Parameter(name: spec.name + ".weight",
                           value: Tensor(shape: [outChannels, inChannels / groups, kernel, kernel],
                                         data: initialization.uniform(count: count, -bound, bound, rng: &rng)))
        bias = (spec.bias ?? true)
            ? Parameter(name: spec.name + ".bias", value: Tensor(shape: [outChannels], data: initialization.uniform(count: outChannels, -bound, bound, rng: &rng)))
            : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    private func geometry(batch: Int, shape: [Int], channels: Int? = nil) -> ConvGeometry {
        ConvGeometry(batch: batch, height: shape[0], width: shape[1], channels: channels ?? shape[2],
                     kernelHeight: kernel, kernelWidth: kernel, stride: stride, pads: pads, dilation: dilation)
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 3 else { throw ModelSpecError.layer(spec, "expects [height, width, channels] input, gets \(s)") }
        guard s[2] == inChannels else { throw ModelSpecError.layer(spec, "expects \(inChannels) input channels, gets \(s[2])") }
        let g = geometry(batch: 1, shape: s)
        guard g.isValid else { throw ModelSpecError.layer(spec, "kernel \(kernel) does not fit input \(s) with padding \(pads)") }
        return [g.outHeight, g.outWidth, outChannels]
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        forward(x, mode: mode, epilogue: nil)
    }

    /// A per-output-channel `y = y·scale + shift` (then ReLU when `relu`) applied to the
    /// convolution's output in one pass: a BatchNorm (and ReLU) after it, folded for inference.
    public struct Epilogue {
        public var scale: [Float]
        public var shift: [Float]
        public var relu: Bool
        public init(scale: [Float], shift: [Float], relu: Bool) {
            self.scale = scale
            self.shift = shift
            self.relu = relu
        }
    }

    /// The forward pass, followed by `epilogue` when given (inference only: the epilogue has
    /// no backward).
    public func forward(_ x: Tensor, mode: ForwardMode, epilogue: Epilogue?) -> Tensor {
        if let e = epilogue {
            precondition(mode == .inference && e.scale.count == outChannels && e.shift.count == outChannels,
                         "\(spec.name): an epilogue needs inference mode and one scale and shift per output channel")
        }
        precondition(x.rank == 4 && x.shape[3] == inChannels,
                     "\(spec.name): expects NHWC input with \(inChannels) channels, got \(x.shape)")
        let g = geometry(batch: x.shape[0], shape: Array(x.shape.dropFirst()))
        if winograd && WinogradKernels.enabled && groups == 1 && WinogradKernels.applies(to: g)
            && (mode == .inference || WinogradKernels.tileCount(g) >= WinogradKernels.minTrainingTiles) {
            return winogradForward(x, g, mode: mode, epilogue: epilogue)
        }
        var y = convolve(x, g, mode: mode)
        if let e = epilogue {
            let rows = y.count / outChannels
            y.data.withUnsafeMutableBufferPointer { p in
                NormKernels.affine(rows: rows, channels: outChannels, x: p.baseAddress!, scale: e.scale, shift: e.shift,
                                   relu: e.relu, y: p.baseAddress!)
            }
        }
        return y
    }

    /// Rebuilds `patchWeight` when the weight or the path changed since it was built.
    private func preparePatchWeight() {
        let key = (version: weight.version, depthwise: isDepthwise)
        if let k = patchWeightKey, k == key, patchWeight.count == weight.value.count { return }
        if patchWeight.count != weight.value.count { patchWeight = [Float].uninitialized(count: weight.value.count) }
        let area = kernelArea
        weight.value.data.withUnsafeBufferPointer { w in
            patchWeight.withUnsafeMutableBufferPointer { pw in
                if isDepthwise {
                    // Cell-major weight [k·k, out]: the transpose of PyTorch's [out, 1, k, k].
                    for o in 0..<outChannels { for s in 0..<area { pw[s * outChannels + o] = w[o * area + s] } }
                } else {
                    ConvKernels.permuteWeightToPatchOrder(w.baseAddress!, out: outChannels, inChannels: groupIn,
                                                          kernelArea: area, into: pw.baseAddress!)
                }
            }
        }
        patchWeightKey = key
    }

    /// The im2col (or depthwise / grouped) forward for `x`, whose geometry `forward` checked and built.
    private func convolve(_ x: Tensor, _ g: ConvGeometry, mode: ForwardMode) -> Tensor {
        geometry = g
        inputShape = x.shape
        ranWinograd = false
        winogradInputSaved = false
        winogradInput = []
        preparePatchWeight()
        if isDepthwise { return depthwiseForward(x, g, mode: mode) }
        let positions = g.outputPositions, patch = g.patchSize
        if mode == .inference && groups == 1 { return inferenceForward(x, g) }
        if cols.count != positions * patch { cols = [Float].uninitialized(count: positions * patch) }
        var out = [Float].uninitialized(count: positions * outChannels)
        if let bias {
            out.withUnsafeMutableBufferPointer { o in
                bias.value.data.withUnsafeBufferPointer { b in
                    for r in 0..<positions { (o.baseAddress! + r * outChannels).update(from: b.baseAddress!, count: outChannels) }
                }
            }
        }
        if groups == 1 {
            x.data.withUnsafeBufferPointer { px in
                cols.withUnsafeMutableBufferPointer { pc in ConvKernels.im2col(g, x: px.baseAddress!, cols: pc.baseAddress!) }
            }
            Gemm.multiply(transA: false, transB: true, m: positions, n: outChannels, k: patch, a: cols, lda: patch,
                          b: patchWeight, ldb: patch, beta: bias == nil ? 0 : 1, c: &out, ldc: outChannels)
        } else {
            // Group-major columns: group gi's im2col block is `positions × groupPatch`.
            let groupPatch = kernelArea * groupIn
            x.data.withUnsafeBufferPointer { px in
                cols.withUnsafeMutableBufferPointer { pc in
                    patchWeight.withUnsafeBufferPointer { pw in
                        out.withUnsafeMutableBufferPointer { po in
                            for gi in 0..<groups {
                                let block = pc.baseAddress! + gi * positions * groupPatch
                                ConvKernels.im2col(g, x: px.baseAddress!, cols: block, channelOffset: gi * groupIn, channelCount: groupIn)
                                Gemm.multiply(transA: false, transB: true, m: positions, n: groupOut, k: groupPatch,
                                              a: block, lda: groupPatch, b: pw.baseAddress! + gi * groupOut * groupPatch, ldb: groupPatch,
                                              beta: bias == nil ? 0 : 1, c: po.baseAddress! + gi * groupOut, ldc: outChannels)
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [g.batch, g.outHeight, g.outWidth, outChannels], data: out)
    }

    /// `groups == 1` with no backward to follow: the im2col columns live in scratch memory
    /// shared by every layer instead of a buffer this layer keeps.
    private func inferenceForward(_ x: Tensor, _ g: ConvGeometry) -> Tensor {
        cols = []
        let positions = g.outputPositions, patch = g.patchSize
        var out = [Float].uninitialized(count: positions * outChannels)
        out.withUnsafeMutableBufferPointer { o in
            if let bias {
                bias.value.data.withUnsafeBufferPointer { b in
                    for r in 0..<positions { (o.baseAddress! + r * outChannels).update(from: b.baseAddress!, count: outChannels) }
                }
            }
            x.data.withUnsafeBufferPointer { px in
                patchWeight.withUnsafeBufferPointer { pw in
                    ConvKernels.withScratch(count: positions * patch) { pc in
                        ConvKernels.im2col(g, x: px.baseAddress!, cols: pc)
                        Gemm.multiply(transA: false, transB: true, m: positions, n: outChannels, k: patch, a: pc, lda: patch,
                                      b: pw.baseAddress!, ldb: patch, beta: bias == nil ? 0 : 1, c: o.baseAddress!, ldc: outChannels)
                    }
                }
            }
        }
        return Tensor(shape: [g.batch, g.outHeight, g.outWidth, outChannels], data: out)
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let g = geometry else { preconditionFailure("\(spec.name): backward before forward") }
        precondition(ranWinograd ? winogradInputSaved : isDepthwise ? !depthwiseInput.isEmpty : !cols.isEmpty,
                     "\(spec.name): backward after an inference-mode forward")
        let positions = g.outputPositions
        if let bias, bias.isTrainable { bias.grad.add(dy.reshaped([positions, outChannels]).sumRows()) }
        if ranWinograd { return winogradBackward(dy, g, needsInputGradient: needsInputGradient) }
        if isDepthwise { return depthwiseBackward(dy, g, needsInputGradient: needsInputGradient) }
        if groups > 1 { return groupedBackward(dy, g, needsInputGradient: needsInputGradient) }
        let patch = g.patchSize
        if weight.isTrainable {
            var patchGrad = [Float].uninitialized(count: weight.value.count)
            Gemm.multiply(transA: true, transB: false, m: outChannels, n: patch, k: positions, a: dy.data, lda: outChannels,
                          b: cols, ldb: patch, c: &patchGrad, ldc: patch)
            addPatchGradient(patchGrad)
        }
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

    private func addPatchGradient(_ patchGrad: [Float]) {
        patchGrad.withUnsafeBufferPointer { pg in
            weight.grad.data.withUnsafeMutableBufferPointer { d in
                ConvKernels.addPatchOrderGradient(pg.baseAddress!, out: outChannels, inChannels: groupIn,
                                                  kernelArea: kernelArea, into: d.baseAddress!)
            }
        }
    }

    private func groupedBackward(_ dy: Tensor, _ g: ConvGeometry, needsInputGradient: Bool) -> Tensor? {
        let positions = g.outputPositions, groupPatch = kernelArea * groupIn
        var dx = needsInputGradient ? [Float](repeating: 0, count: inputShape.reduce(1, *)) : []
        var patchGrad = weight.isTrainable ? [Float].uninitialized(count: weight.value.count) : []
        dy.data.withUnsafeBufferPointer { pdy in
            cols.withUnsafeMutableBufferPointer { pc in
                patchWeight.withUnsafeBufferPointer { pw in
                    for gi in 0..<groups {
                        let block = pc.baseAddress! + gi * positions * groupPatch
                        let dyg = pdy.baseAddress! + gi * groupOut
                        if weight.isTrainable {
                            patchGrad.withUnsafeMutableBufferPointer { pg in
                                Gemm.multiply(transA: true, transB: false, m: groupOut, n: groupPatch, k: positions,
                                              a: dyg, lda: outChannels, b: block, ldb: groupPatch,
                                              c: pg.baseAddress! + gi * groupOut * groupPatch, ldc: groupPatch)
                            }
                        }
                        guard needsInputGradient else { continue }
                        // This group's columns are dead once its weight gradient is taken.
                        Gemm.multiply(transA: false, transB: false, m: positions, n: groupPatch, k: groupOut,
                                      a: dyg, lda: outChannels, b: pw.baseAddress! + gi * groupOut * groupPatch, ldb: groupPatch,
                                      c: block, ldc: groupPatch)
                        dx.withUnsafeMutableBufferPointer { pd in
                            ConvKernels.col2im(g, cols: block, dx: pd.baseAddress!, channelOffset: gi * groupIn, channelCount: groupIn)
                        }
                    }
                }
            }
        }
        if weight.isTrainable { addPatchGradient(patchGrad) }
        return needsInputGradient ? Tensor(shape: inputShape, data: dx) : nil
    }

    // MARK: - Winograd

    /// Rebuilds `winogradWeight` when the weight changed since it was built.
    private func prepareWinogradWeight() {
        let count = 16 * inChannels * outChannels
        if winogradWeightVersion == weight.version && winogradWeight.count == count { return }
        if winogradWeight.count != count { winogradWeight = [Float].uninitialized(count: count) }
        weight.value.data.withUnsafeBufferPointer { w in
            winogradWeight.withUnsafeMutableBufferPointer { u in
                WinogradKernels.transformWeights(w.baseAddress!, out: outChannels, inChannels: inChannels, into: u.baseAddress!)
            }
        }
        winogradWeightVersion = weight.version
    }

    /// The Winograd forward; in inference mode the epilogue runs inside the output transform and
    /// the transformed input lives in shared scratch memory.
    private func winogradForward(_ x: Tensor, _ g: ConvGeometry, mode: ForwardMode, epilogue: Epilogue?) -> Tensor {
        geometry = g
        inputShape = x.shape
        ranWinograd = true
        cols = []
        depthwiseInput = []
        prepareWinogradWeight()
        let keep = mode != .inference
        winogradInputSaved = keep
        let vCount = 16 * WinogradKernels.tileCount(g) * inChannels
        if !keep {
            winogradInput = []
        } else if winogradInput.count != vCount {
            winogradInput = [Float].uninitialized(count: vCount)
        }
        var out = [Float].uninitialized(count: g.outputPositions * outChannels)
        x.data.withUnsafeBufferPointer { px in
            winogradWeight.withUnsafeBufferPointer { pu in
                out.withUnsafeMutableBufferPointer { po in
                    withOptionalPointer(bias?.value.data) { pb in
                        withOptionalPointer(epilogue?.scale) { ps in
                            withOptionalPointer(epilogue?.shift) { pt in
                                let relu = epilogue?.relu ?? false
                                if keep {
                                    winogradInput.withUnsafeMutableBufferPointer { pv in
                                        WinogradKernels.forward(g, x: px.baseAddress!, v: pv.baseAddress!, u: pu.baseAddress!, out: outChannels,
                                                                bias: pb, scale: ps, shift: pt, relu: relu, y: po.baseAddress!)
                                    }
                                } else {
                                    WinogradKernels.forward(g, x: px.baseAddress!, u: pu.baseAddress!, out: outChannels,
                                                            bias: pb, scale: ps, shift: pt, relu: relu, y: po.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [g.batch, g.outHeight, g.outWidth, outChannels], data: out)
    }

    /// The Winograd backward: the adjoint of each forward step. Overwrites the saved transformed
    /// input, as the im2col path overwrites its columns.
    private func winogradBackward(_ dy: Tensor, _ g: ConvGeometry, needsInputGradient: Bool) -> Tensor? {
        var dx = needsInputGradient ? [Float](repeating: 0, count: inputShape.reduce(1, *)) : [0]
        let trainable = weight.isTrainable
        dy.data.withUnsafeBufferPointer { pdy in
            winogradInput.withUnsafeMutableBufferPointer { pv in
                winogradWeight.withUnsafeBufferPointer { pu in
                    weight.grad.data.withUnsafeMutableBufferPointer { pw in
                        dx.withUnsafeMutableBufferPointer { pd in
                            WinogradKernels.backward(g, dy: pdy.baseAddress!, v: pv.baseAddress!, u: pu.baseAddress!, out: outChannels,
                                                     dw: trainable ? pw.baseAddress! : nil,
                                                     dx: needsInputGradient ? pd.baseAddress! : nil)
                        }
                    }
                }
            }
        }
        winogradInputSaved = false
        return needsInputGradient ? Tensor(shape: inputShape, data: dx) : nil
    }

    private func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let a else { return body(nil) }
        return a.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    // MARK: - Depthwise

    /// Output channels per input channel.
    private var multiplier: Int { outChannels / inChannels }

    private func depthwiseForward(_ x: Tensor, _ g: ConvGeometry, mode: ForwardMode) -> Tensor {
        let m = multiplier
        var dg = g
        dg.channels = outChannels
        if m == 1 {
            depthwiseInput = x.data
        } else {
            let pixels = x.count / inChannels
            if depthwiseInput.count != pixels * outChannels { depthwiseInput = [Float].uninitialized(count: pixels * outChannels) }
            x.data.withUnsafeBufferPointer { px in
                depthwiseInput.withUnsafeMutableBufferPointer { pe in
                    for p in 0..<pixels {
                        let src = px.baseAddress! + p * inChannels, dst = pe.baseAddress! + p * outChannels
                        for ci in 0..<inChannels { (dst + ci * m).update(repeating: src[ci], count: m) }
                    }
                }
            }
        }
        var out = [Float].uninitialized(count: dg.outputPositions * outChannels)
        depthwiseInput.withUnsafeBufferPointer { px in
            patchWeight.withUnsafeBufferPointer { pw in
                out.withUnsafeMutableBufferPointer { po in
                    if let bias {
                        bias.value.data.withUnsafeBufferPointer { b in
                            DepthwiseKernels.forward(dg, x: px.baseAddress!, weight: pw.baseAddress!, bias: b.baseAddress!, y: po.baseAddress!)
                        }
                    } else {
                        DepthwiseKernels.forward(dg, x: px.baseAddress!, weight: pw.baseAddress!, bias: nil, y: po.baseAddress!)
                    }
                }
            }
        }
        if mode == .inference { depthwiseInput = [] }
        return Tensor(shape: [g.batch, g.outHeight, g.outWidth, outChannels], data: out)
    }

    private func depthwiseBackward(_ dy: Tensor, _ g: ConvGeometry, needsInputGradient: Bool) -> Tensor? {
        var dg = g
        dg.channels = outChannels
        let area = kernelArea
        if weight.isTrainable {
            var cellGrad = [Float](repeating: 0, count: weight.value.count)
            depthwiseInput.withUnsafeBufferPointer { px in
                dy.data.withUnsafeBufferPointer { pdy in
                    cellGrad.withUnsafeMutableBufferPointer { pg in
                        DepthwiseKernels.weightGradient(dg, x: px.baseAddress!, dy: pdy.baseAddress!, dw: pg.baseAddress!)
                    }
                }
            }
            weight.grad.data.withUnsafeMutableBufferPointer { d in
                for o in 0..<outChannels { for s in 0..<area { d[o * area + s] += cellGrad[s * outChannels + o] } }
            }
        }
        guard needsInputGradient else { return nil }
        var dxe = [Float].uninitialized(count: g.batch * g.height * g.width * outChannels)
        dy.data.withUnsafeBufferPointer { pdy in
            patchWeight.withUnsafeBufferPointer { pw in
                dxe.withUnsafeMutableBufferPointer { pd in
                    DepthwiseKernels.inputGradient(dg, dy: pdy.baseAddress!, weight: pw.baseAddress!, dx: pd.baseAddress!)
                }
            }
        }
        let m = multiplier
        if m == 1 { return Tensor(shape: inputShape, data: dxe) }
        // Sum the gradients of each input channel's repeated copies.
        let pixels = dxe.count / outChannels
        var dx = [Float].uninitialized(count: pixels * inChannels)
        for p in 0..<pixels {
            for ci in 0..<inChannels {
                var s: Float = 0
                for j in 0..<m { s += dxe[p * outChannels + ci * m + j] }
                dx[p * inChannels + ci] = s
            }
        }
        return Tensor(shape: inputShape, data: dx)
    }
}
