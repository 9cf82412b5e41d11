/// Which encoders a delta goes through, in the fixed order top-k → quantisation → zlib.
///
/// ```
/// DeltaCodecConfig(topKFraction: 0.01, quantization: .int8(blockSize: 256), zlibLevel: 1)
/// ```
/// Every stage is optional; `DeltaCodecConfig()` sends raw float32.
public struct DeltaCodecConfig: Codable, Equatable, Sendable {
    /// How each sent value is stored.
    public enum Quantization: Codable, Equatable, Sendable {
        /// float32, lossless.
        case none
        /// IEEE binary16, round to nearest even; magnitudes above 65504 are clamped to 65504.
        case float16
        /// Symmetric int8 with one float32 scale per block of `blockSize` consecutive sent
        /// values: `scale = maxabs / 127`, `q = round(x / scale)`, decoded as `q · scale`.
        case int8(blockSize: Int)
    }

    /// Send only the `ceil(fraction · count)` largest-magnitude elements of each tensor
    /// (0 < fraction ≤ 1); `nil` sends every element.
    public var topKFraction: Double?
    /// How the sent values are stored.
    public var quantization: Quantization
    /// zlib level (1...9) for the whole body; `nil` stores the body uncompressed.
    public var zlibLevel: Int32?
    /// Tensors with at most this many elements skip top-k and are sent whole (still quantised
    /// and compressed): biases and BatchNorm vectors cost little and sparsifying them hurts
    /// most. `nil` applies top-k to every tensor.
    public var denseMaxElements: Int?

    /// A chain; the default sends raw float32.
    public init(topKFraction: Double? = nil, quantization: Quantization = .none, zlibLevel: Int32? = nil) {
        self.topKFraction = topKFraction
        self.quantization = quantization
        self.zlibLevel = zlibLevel
    }

    /// Throws if a setting is out of range, naming it.
    public func validate() throws(ModelDeltaError) {
        if let f = topKFraction, !(f > 0 && f <= 1) {
            throw ModelDeltaError("codec config: topKFraction must be in (0, 1], got \(f)")
        }
        if case .int8(let b) = quantization, !(1...DeltaFormat.maxBlockSize).contains(b) {
            throw ModelDeltaError("codec config: int8 block size must be in 1...\(DeltaFormat.maxBlockSize), got \(b)")
        }
        if let d = denseMaxElements, d < 0 {
            throw ModelDeltaError("codec config: denseMaxElements must be ≥ 0, got \(d)")
        }
        if let z = zlibLevel, !(1...9).contains(z) {
            throw ModelDeltaError("codec config: zlibLevel must be in 1...9, got \(z)")
        }
    }

    /// How many elements of a `count`-element tensor are sent: `ceil(fraction · count)`, at
    /// least 1 for a non-empty tensor, or `count` without top-k. The product is taken with a
    /// 1e-12 relative tolerance, so binary rounding cannot turn `0.01 · 300` into 4.
    public func sentCount(of count: Int) -> Int {
        guard let f = topKFraction, count > 0, count > (denseMaxElements ?? 0) else { return count }
        let exact = f * Double(count)
        return min(count, max(1, Int((exact - exact * 1e-12).rounded(.up))))
    }

    /// A short label such as `topk1%+int8+zlib` (for benchmarks and logs).
    public var label: String {
        var parts: [String] = []
        if let f = topKFraction {
            let pct = f * 100
            parts.append(pct == pct.rounded() ? "topk\(Int(pct))%" : "topk\(pct)%")
        }
        switch quantization {
        case .none: if parts.isEmpty { parts.append("float32") }
        case .float16: parts.append("float16")
        case .int8(let b): parts.append(b == 256 ? "int8" : "int8/\(b)")
        }
        if zlibLevel != nil { parts.append("zlib") }
        return parts.joined(separator: "+")
    }
}
