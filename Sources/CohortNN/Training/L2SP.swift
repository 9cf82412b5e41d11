import CohortTensor

/// L2-SP (Li et al. 2018): a penalty `α/2·‖w − w⁰‖²` pulling fine-tuned weights toward their
/// pre-trained values `w⁰`, plus `β/2·‖w‖²` on parameters that have no pre-trained value
/// (a new head). Its gradient is added to the parameters' gradients before the optimizer step.
public final class L2SP {
    public let alpha: Float
    public let beta: Float
    private var reference: [String: Tensor]

    /// Captures the current values of `parameters` as the pre-trained reference.
    public convenience init(reference parameters: [Parameter], alpha: Float, beta: Float = 0) {
        self.init(reference: Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) }), alpha: alpha, beta: beta)
    }

    /// The penalty toward `reference` (by parameter name), held as given: tensors shared with
    /// another holder (a federated node's received global model, for FedProx) are not copied.
    public init(reference: [String: Tensor], alpha: Float, beta: Float = 0) {
        precondition(alpha >= 0 && beta >= 0, "L2-SP strengths must be ≥ 0")
        self.alpha = alpha
        self.beta = beta
        self.reference = reference
    }

    /// Elements per block of `w − w⁰` (a multiple of 8, so the SIMD kernels split the
    /// elements exactly as over the whole tensor and give the same bits).
    static let block = 1 << 16
    /// `block`, for tests.
    public static var blockForTests: Int { block }

    /// Adds the penalty's gradient to every trainable parameter and returns the penalty value.
    @discardableResult
    public func addGradient(to parameters: [Parameter]) -> Float {
        var penalty: Float = 0
        for p in parameters where p.isUpdated {
            if let w0 = reference[p.name], w0.shape == p.value.shape {
                penalty += 0.5 * alpha * addDistance(p, to: w0)
            } else if beta > 0 {
                penalty += 0.5 * beta * p.value.squaredNorm()
                p.grad.add(p.value, scaledBy: beta)
            }
        }
        return penalty
    }

    /// `grad += α(w − w⁰)` block by block (a block-sized scratch instead of a whole
    /// model-sized `w − w⁰`, the same values as `p.grad.add(p.value - w0, scaledBy: α)`);
    /// returns ‖w − w⁰‖² (summed in Double in element order, as `squaredNorm`).
    private func addDistance(_ p: Parameter, to w0: Tensor) -> Float {
        let n = w0.count
        var squares = 0.0
        var scratch = [Float](repeating: 0, count: min(n, Self.block))
        let a = alpha
        p.value.data.withUnsafeBufferPointer { w in
            w0.data.withUnsafeBufferPointer { r in
                p.grad.data.withUnsafeMutableBufferPointer { g in
                    scratch.withUnsafeMutableBufferPointer { d in
                        guard let wb = w.baseAddress, let rb = r.baseAddress, let gb = g.baseAddress, let db = d.baseAddress else { return }
                        var lo = 0
                        while lo < n {
                            let m = min(Self.block, n - lo)
                            db.update(from: wb + lo, count: m)
                            VectorKernels.axpy(count: m, alpha: -1, x: rb + lo, y: db)
                            for i in 0..<m { squares += Double(db[i]) * Double(db[i]) }
                            VectorKernels.axpy(count: m, alpha: a, x: UnsafePointer(db), y: gb + lo)
                            lo += m
                        }
                    }
                }
            }
        }
        return Float(squares)
    }
}
