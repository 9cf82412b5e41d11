import CohortTensor
import Foundation

/// What an inference-mode projection `y = x·Wᵀ + b` does to its output before returning it.
/// `Sequential` sets it when the node after the projection reads only the projection's output
/// (a `gelu`) or that output and one other (a residual `add`), and then skips that node.
struct ProjectionEpilogue {
    /// Added to the output: `y = x·Wᵀ + (b + residual)`, one pass instead of the bias fill,
    /// the `add`'s copy and its sum. Same shape as the output.
    var residual: Tensor?
    /// Exact GELU applied to the output in place, instead of into a fresh buffer.
    var gelu = false

    /// No epilogue.
    static let none = ProjectionEpilogue()
}

/// A layer weight packed for `Gemm.multiply(packedB:)`, kept between inference calls and
/// rebuilt when the parameter's version changes (any assignment or in-place update).
final class PackedWeightCache {
    /// Weights above this many values are not kept packed: their GEMMs take the ordinary
    /// path (packing per call, in cache-sized blocks), so a model of a few huge layers never
    /// holds a second copy of them. ViT-Tiny's largest projection has 147,456.
    static let maxCachedValues = 1 << 20

    private var packed: GemmPackedB?
    private var version = -1

    /// The packed `x·Wᵀ` operand for `weight` (`[units, inputs]`), or nil when it is too large
    /// to keep.
    func packed(_ weight: Parameter, units: Int, inputs: Int) -> GemmPackedB? {
        guard units * inputs <= Self.maxCachedValues else { return nil }
        if let packed, version == weight.version { return packed }
        let p = GemmPackedB.weight(weight.value.data, units: units, inputs: inputs)
        packed = p
        version = weight.version
        return p
    }
}

/// `y = x·Wᵀ + b` for inference, with the weight packed once (`PackedWeightCache`) and the
/// epilogue fused in.
public enum InferenceProjection {
    /// Process-wide switch: `COHORT_FUSED_PROJECTIONS=0` in the environment makes `linear`,
    /// `dense` and attention layers run inference as `.evaluation` does (weights packed per
    /// call, no fused GELU or residual), so benchmarks can compare both in one binary.
    public nonisolated(unsafe) static var enabled: Bool = ProcessInfo.processInfo.environment["COHORT_FUSED_PROJECTIONS"] != "0"

    /// Writes `rows × units` outputs for `rows × inputs` inputs `x` into `out`.
    static func run(x: UnsafePointer<Float>, rows: Int, inputs: Int, units: Int, weight: Parameter, cache: PackedWeightCache,
                    bias: Parameter?, epilogue: ProjectionEpilogue, into out: UnsafeMutablePointer<Float>) {
        let o = SendableMutablePointer(out)
        // C starts as bias (+ residual); the GEMM then accumulates into it (beta = 1).
        let hasStart = bias != nil || epilogue.residual != nil
        if let residual = epilogue.residual {
            precondition(residual.count == rows * units, "residual epilogue: \(residual.count) values for \(rows)×\(units) outputs")
            residual.data.withUnsafeBufferPointer { rp in
                let r = SendablePointer(rp.baseAddress!)
                if let bias {
                    bias.value.data.withUnsafeBufferPointer { bp in
                        let b = SendablePointer(bp.baseAddress!)
                        NormKernels.forRowSlices(rows: rows, channels: units) { _, lo, hi in
                            for i in lo..<hi {
                                let dst = o.p + i * units, src = r.p + i * units
                                for j in 0..<units { dst[j] = src[j] + b.p[j] }
                            }
                        }
                    }
                } else {
                    out.update(from: rp.baseAddress!, count: rows * units)
                }
            }
        } else if let bias {
            bias.value.data.withUnsafeBufferPointer { b in VectorKernels.fillRows(rows: rows, cols: units, row: b.baseAddress!, into: out) }
        }
        if let packed = cache.packed(weight, units: units, inputs: inputs) {
            Gemm.multiply(transA: false, m: rows, a: x, lda: inputs, packedB: packed, beta: hasStart ? 1 : 0, c: out, ldc: units)
        } else {
            weight.value.data.withUnsafeBufferPointer { w in
                Gemm.multiply(transA: false, transB: true, m: rows, n: units, k: inputs, a: x, lda: inputs,
                              b: w.baseAddress!, ldb: inputs, beta: hasStart ? 1 : 0, c: out, ldc: units)
            }
        }
        if epilogue.gelu {
            // Multiples of eight per slice, as `Activation` splits, so every value takes the
            // same SIMD lane code.
            let count = rows * units, chunks = (count + 7) / 8
            NormKernels.forRowSlices(rows: chunks, channels: 8) { _, lo, hi in
                let start = lo * 8, end = min(hi * 8, count)
                VectorMath.gelu(o.p + start, o.p + start, count: end - start)
            }
        }
    }
}
