import CohortTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Multi-head self-attention on tokens `[T, D]` (timm's `Attention`, or
/// `nn.MultiheadAttention(D, heads, batch_first=True)` called as `attn(x, x, x)`):
///
///     [q; k; v] = x·W_inᵀ + b_in        (W_in [3D, D]: rows q, then k, then v)
///     head h uses columns h·hd..<(h+1)·hd of q, k, v   (hd = D / heads)
///     o_h = softmax(q_h·k_hᵀ / √hd) · v_h   (softmax over keys)
///     y = [o_0 … o_{H−1}]·W_outᵀ + b_out
///
/// Only the parameter names depend on `layout`: "timm" (default) → `<name>.qkv.weight`,
/// `<name>.qkv.bias`, `<name>.proj.weight`, `<name>.proj.bias`; "torch" → `<name>.in_proj_weight`,
/// `<name>.in_proj_bias`, `<name>.out_proj.weight`, `<name>.out_proj.bias`. `bias: false` drops
/// both biases.
///
/// Initialisation follows `nn.MultiheadAttention`: Xavier-uniform input projection
/// (±√(6/(D+3D))), output projection uniform ±1/√D (PyTorch's `Linear` default), zero biases.
///
/// All products run on the blocked GEMM: the two projections over all `N·T` rows at once, and
/// per (sample, head) `q·kᵀ`, `P·v` (and their backward products) read straight from the
/// strided `[N·T, 3D]` projection with leading dimension 3D, no copies. The (sample, head)
/// pairs are spread over the worker pool, each pair's GEMMs on one thread.
public final class MultiHeadAttention: Layer {
    public let spec: LayerSpec
    public let features: Int
    public let heads: Int
    public let headDim: Int
    /// Input projection `[3D, D]` (`qkv.weight` / `in_proj_weight`).
    public let inWeight: Parameter
    /// Input projection bias `[3D]`, nil with `bias: false`.
    public let inBias: Parameter?
    /// Output projection `[D, D]` (`proj.weight` / `out_proj.weight`).
    public let outWeight: Parameter
    /// Output projection bias `[D]`, nil with `bias: false`.
    public let outBias: Parameter?

    private var input = Tensor(shape: [0])
    private var qkv: [Float] = []
    private var probs: [Float] = []
    private var context: [Float] = []
    private var tokens = 0
    private let packedIn = PackedWeightCache()
    private let packedOut = PackedWeightCache()

    /// An attention layer over `features`-wide tokens (weights zeros, `rng` untouched, with
    /// `initialization: .zeros`).
    public init(spec: LayerSpec, features d: Int, rng: inout SeededRandom, initialization: WeightInitialization = .seeded) {
        self.spec = spec
        features = d
        heads = spec.heads ?? 1
        headDim = d / heads
        let torch = spec.layout == "torch"
        let hasBias = spec.bias ?? true
        let inBound = (6 / Float(4 * d)).squareRoot(), outBound = 1 / Float(d).squareRoot()
        inWeight = Parameter(name: spec.name + (torch ? ".in_proj_weight" : ".qkv.weight"),
                             value: Tensor(shape: [3 * d, d], data: initialization.uniform(count: 3 * d * d, -inBound, inBound, rng: &rng)))
        outWeight = Parameter(name: spec.name + (torch ? ".out_proj.weight" : ".proj.weight"),
                              value: Tensor(shape: [d, d], data: initialization.uniform(count: d * d, -outBound, outBound, rng: &rng)))
        inBias = hasBias ? Parameter(name: spec.name + (torch ? ".in_proj_bias" : ".qkv.bias"), value: Tensor(shape: [3 * d])) : nil
        outBias = hasBias ? Parameter(name: spec.name + (torch ? ".out_proj.bias" : ".proj.bias"), value: Tensor(shape: [d])) : nil
    }

    /// In PyTorch's state_dict order: input weight, input bias, output weight, output bias.
    public var parameters: [Parameter] { [inWeight] + (inBias.map { [$0] } ?? []) + [outWeight] + (outBias.map { [$0] } ?? []) }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 2, s[1] == features else { throw ModelSpecError.layer(spec, "expects [tokens, \(features)] input, gets \(s)") }
        return s
    }

    /// `c = x·Wᵀ (+ bias)` over `rows` rows.
    private static func project(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, weight: Parameter, bias: Parameter?,
                                units: Int, into c: UnsafeMutablePointer<Float>) {
        if let bias {
            bias.value.data.withUnsafeBufferPointer { b in
                VectorKernels.fillRows(rows: rows, cols: units, row: b.baseAddress!, into: c)
            }
        }
        weight.value.data.withUnsafeBufferPointer { w in
            Gemm.multiply(transA: false, transB: true, m: rows, n: units, k: inputs, a: x, lda: inputs,
                          b: w.baseAddress!, ldb: inputs, beta: bias == nil ? 0 : 1, c: c, ldc: units)
        }
    }

    /// Runs `body(pair)` for every (sample, head) pair, split over the worker pool when the
    /// work is large enough to pay for the hand-off.
    private func forEachPair(_ pairs: Int, tokens t: Int, scratch: Int, _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let work = pairs * t * t * headDim * 2
        let tasks = work >= Gemm.parallelThreshold ? min(WorkerPool.shared.width, pairs) : 1
        WorkerPool.shared.run(tasks: tasks) { task in
            let lo = pairs * task / tasks, hi = pairs * (task + 1) / tasks
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, scratch)) { buffer in
                for p in lo..<hi { body(p, buffer.baseAddress!) }
            }
        }
    }

    /// One (sample, head) pair's attention: scores q·kᵀ·scale into `scores` ([t, t]), softmax
    /// by row, then the context scores·v into its place in `context` ([N·t, d]).
    private func attend(pair: Int, qkv: UnsafePointer<Float>, scores s: UnsafeMutablePointer<Float>,
                        context: UnsafeMutablePointer<Float>, tokens t: Int, scale: Float) {
        let d = features, hd = headDim, ld = 3 * d
        let b = pair / heads, head = pair % heads
        let q = qkv + b * t * ld + head * hd, k = q + d, v = q + 2 * d
        Gemm.multiply(transA: false, transB: true, m: t, n: t, k: hd, alpha: scale, a: q, lda: ld,
                      b: k, ldb: ld, beta: 0, c: s, ldc: t, threads: 1)
        Self.softmaxRows(s, rows: t, columns: t)
        Gemm.multiply(transA: false, transB: false, m: t, n: hd, k: t, a: s, lda: t, b: v, ldb: ld,
                      beta: 0, c: context + b * t * d + head * hd, ldc: d, threads: 1)
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        if mode == .inference && InferenceProjection.enabled { return inferenceForward(x, epilogue: .none) }
        let n = x.rows, t = x.shape[1], d = features, h = heads, hd = headDim
        let rows = n * t, ld = 3 * d
        let scale = 1 / Float(hd).squareRoot()
        input = x
        tokens = t
        qkv = .uninitialized(count: rows * ld)
        probs = .uninitialized(count: n * h * t * t)
        context = .uninitialized(count: rows * d)
        var out = [Float].uninitialized(count: rows * d)
        x.data.withUnsafeBufferPointer { xp in
            qkv.withUnsafeMutableBufferPointer { qp in
                Self.project(xp.baseAddress!, rows: rows, inputs: d, weight: inWeight, bias: inBias, units: ld, into: qp.baseAddress!)
            }
        }
        qkv.withUnsafeBufferPointer { qb in
            probs.withUnsafeMutableBufferPointer { pb in
                context.withUnsafeMutableBufferPointer { cb in
                    let q0 = SendablePointer(qb.baseAddress!), p0 = SendableMutablePointer(pb.baseAddress!)
                    let c0 = SendableMutablePointer(cb.baseAddress!)
                    forEachPair(n * h, tokens: t, scratch: 0) { pair, _ in
                        attend(pair: pair, qkv: q0.p, scores: p0.p + pair * t * t, context: c0.p, tokens: t, scale: scale)
                    }
                }
            }
        }
        context.withUnsafeBufferPointer { cb in
            out.withUnsafeMutableBufferPointer { o in
                Self.project(cb.baseAddress!, rows: rows, inputs: d, weight: outWeight, bias: outBias, units: d, into: o.baseAddress!)
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    /// The inference forward: the same products and softmax as `forward`, with the projection
    /// weights packed once and kept (`PackedWeightCache`), the projection buffers and each
    /// (sample, head)'s scores local to the call (nothing kept for backward), and the output
    /// projection's epilogue (a residual sum) fused in.
    func inferenceForward(_ x: Tensor, epilogue: ProjectionEpilogue) -> Tensor {
        precondition(x.rank == 3 && x.shape[2] == features, "\(spec.name): expects [N, tokens, \(features)] input, got \(x.shape)")
        let n = x.rows, t = x.shape[1], d = features, h = heads, hd = headDim
        let rows = n * t, ld = 3 * d
        let scale = 1 / Float(hd).squareRoot()
        input = Tensor(shape: [0])
        qkv = []
        probs = []
        context = []
        var qkvLocal = [Float].uninitialized(count: rows * ld)
        var contextLocal = [Float].uninitialized(count: rows * d)
        var out = [Float].uninitialized(count: rows * d)
        x.data.withUnsafeBufferPointer { xp in
            qkvLocal.withUnsafeMutableBufferPointer { qp in
                InferenceProjection.run(x: xp.baseAddress!, rows: rows, inputs: d, units: ld, weight: inWeight, cache: packedIn,
                                        bias: inBias, epilogue: .none, into: qp.baseAddress!)
            }
        }
        qkvLocal.withUnsafeBufferPointer { qb in
            contextLocal.withUnsafeMutableBufferPointer { cb in
                let q0 = SendablePointer(qb.baseAddress!), c0 = SendableMutablePointer(cb.baseAddress!)
                forEachPair(n * h, tokens: t, scratch: t * t) { pair, s in
                    attend(pair: pair, qkv: q0.p, scores: s, context: c0.p, tokens: t, scale: scale)
                }
            }
        }
        contextLocal.withUnsafeBufferPointer { cb in
            out.withUnsafeMutableBufferPointer { o in
                InferenceProjection.run(x: cb.baseAddress!, rows: rows, inputs: d, units: d, weight: outWeight, cache: packedOut,
                                        bias: outBias, epilogue: epilogue, into: o.baseAddress!)
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    /// In-place numerically stable softmax of each row of a `rows×columns` block.
    private static func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for i in 0..<rows {
            let row = s + i * columns
            var m = -Float.infinity
            for j in 0..<columns { m = max(m, row[j]) }
            // Eight at a time with the vectorised exp (relative error ~1e-7, as expf).
            let raw = UnsafeMutableRawPointer(row), mv = SIMD8<Float>(repeating: m)
            var acc = SIMD8<Float>(), j = 0
            while j + 8 <= columns {
                let e = VectorMath.exp(raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - mv)
                raw.storeBytes(of: e, toByteOffset: j * 4, as: SIMD8<Float>.self)
                acc += e
                j &+= 8
            }
            var sum = acc.sum()
            while j < columns { let e = expf(row[j] - m); row[j] = e; sum += e; j &+= 1 }
            let inv = 1 / sum
            for j in 0..<columns { row[j] *= inv }
        }
    }

    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        let n = input.rows, t = tokens, d = features, h = heads, hd = headDim
        let rows = n * t, ld = 3 * d
        let scale = 1 / Float(hd).squareRoot()
        if outWeight.isTrainable {
            Gemm.multiply(transA: true, transB: false, m: d, n: d, k: rows, a: dy.data, lda: d, b: context, ldb: d,
                          beta: 1, c: &outWeight.grad.data, ldc: d)
        }
        if let outBias, outBias.isTrainable { outBias.grad.add(dy.reshaped([rows, d]).sumRows()) }
        let inTrainable = inWeight.isTrainable || (inBias?.isTrainable ?? false)
        guard needsInputGradient || inTrainable else { return nil }
        var dContext = [Float].uninitialized(count: rows * d)
        Gemm.multiply(transA: false, transB: false, m: rows, n: d, k: d, a: dy.data, lda: d, b: outWeight.value.data, ldb: d,
                      c: &dContext, ldc: d)
        var dqkv = [Float].uninitialized(count: rows * ld)
        qkv.withUnsafeBufferPointer { qb in
            probs.withUnsafeBufferPointer { pb in
                dContext.withUnsafeBufferPointer { gb in
                    dqkv.withUnsafeMutableBufferPointer { db in
                        let q0 = SendablePointer(qb.baseAddress!), p0 = SendablePointer(pb.baseAddress!)
                        let g0 = SendablePointer(gb.baseAddress!), d0 = SendableMutablePointer(db.baseAddress!)
                        forEachPair(n * h, tokens: t, scratch: t * t) { pair, ds in
                            let b = pair / h, head = pair % h
                            let offset = b * t * ld + head * hd
                            let q = q0.p + offset, k = q + d, v = q + 2 * d
                            let dq = d0.p + offset, dk = dq + d, dv = dq + 2 * d
                            let p = p0.p + pair * t * t
                            let dout = g0.p + b * t * d + head * hd
                            // dP = dO·vᵀ, dv = Pᵀ·dO
                            Gemm.multiply(transA: false, transB: true, m: t, n: t, k: hd, a: dout, lda: d, b: v, ldb: ld,
                                          beta: 0, c: ds, ldc: t, threads: 1)
                            Gemm.multiply(transA: true, transB: false, m: t, n: hd, k: t, a: p, lda: t, b: dout, ldb: d,
                                          beta: 0, c: dv, ldc: ld, threads: 1)
                            // Softmax backward: dS = P ⊙ (dP − rowsum(dP ⊙ P)).
                            for i in 0..<t {
                                let pr = p + i * t, sr = ds + i * t
                                var dot: Float = 0
                                for j in 0..<t { dot += pr[j] * sr[j] }
                                for j in 0..<t { sr[j] = pr[j] * (sr[j] - dot) }
                            }
                            // dq = scale·dS·k, dk = scale·dSᵀ·q
                            Gemm.multiply(transA: false, transB: false, m: t, n: hd, k: t, alpha: scale, a: ds, lda: t, b: k, ldb: ld,
                                          beta: 0, c: dq, ldc: ld, threads: 1)
                            Gemm.multiply(transA: true, transB: false, m: t, n: hd, k: t, alpha: scale, a: ds, lda: t, b: q, ldb: ld,
                                          beta: 0, c: dk, ldc: ld, threads: 1)
                        }
                    }
                }
            }
        }
        if inWeight.isTrainable {
            Gemm.multiply(transA: true, transB: false, m: ld, n: d, k: rows, a: dqkv, lda: ld, b: input.data, ldb: d,
                          beta: 1, c: &inWeight.grad.data, ldc: d)
        }
        if let inBias, inBias.isTrainable { inBias.grad.add(Tensor(shape: [rows, ld], data: dqkv).sumRows()) }
        guard needsInputGradient else { return nil }
        var dx = [Float].uninitialized(count: rows * d)
        Gemm.multiply(transA: false, transB: false, m: rows, n: d, k: ld, a: dqkv, lda: ld, b: inWeight.value.data, ldb: d,
                      c: &dx, ldc: d)
        return Tensor(shape: input.shape, data: dx)
    }
}
