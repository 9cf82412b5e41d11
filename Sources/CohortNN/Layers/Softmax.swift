import CohortTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Softmax over one per-sample axis (default: the last), numerically stable (the maximum along
/// the axis is subtracted before exponentiating).
public final class Softmax: Layer {
    public let spec: LayerSpec
    private var output = Tensor(shape: [0])
    private var outer = 0, length = 0, inner = 0

    /// A `softmax` node.
    public init(spec: LayerSpec) { self.spec = spec }

    public func outputShape(for s: [Int]) throws -> [Int] { try LayerCheck.check(spec, inputShapes: [s]).outputShape }

    /// Splits the batch shape into (values before the axis, the axis, values after it).
    private func geometry(_ shape: [Int]) -> (Int, Int, Int) {
        let rank = shape.count - 1
        let a = (spec.axis.map { $0 < 0 ? $0 + rank : $0 } ?? rank - 1) + 1
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        (outer, length, inner) = geometry(x.shape)
        var out = [Float].uninitialized(count: x.count)
        let (o, l, n) = (outer, length, inner)
        x.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<o {
                    for j in 0..<n {
                        let base = i * l * n + j
                        var m = -Float.infinity
                        for k in 0..<l { m = max(m, src[base + k * n]) }
                        var sum: Float = 0
                        for k in 0..<l { let e = expf(src[base + k * n] - m); dst[base + k * n] = e; sum += e }
                        let inv = 1 / sum
                        for k in 0..<l { dst[base + k * n] *= inv }
                    }
                }
            }
        }
        output = Tensor(shape: x.shape, data: out)
        return output
    }

    /// `dx = y ⊙ (dy − Σ_axis dy ⊙ y)`.
    public func backward(_ dy: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        var dx = [Float].uninitialized(count: dy.count)
        let (o, l, n) = (outer, length, inner)
        dy.data.withUnsafeBufferPointer { g in
            output.data.withUnsafeBufferPointer { y in
                dx.withUnsafeMutableBufferPointer { d in
                    for i in 0..<o {
                        for j in 0..<n {
                            let base = i * l * n + j
                            var dot: Float = 0
                            for k in 0..<l { dot += g[base + k * n] * y[base + k * n] }
                            for k in 0..<l { d[base + k * n] = y[base + k * n] * (g[base + k * n] - dot) }
                        }
                    }
                }
            }
        }
        return Tensor(shape: dy.shape, data: dx)
    }
}
