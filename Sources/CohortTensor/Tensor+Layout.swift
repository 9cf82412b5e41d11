extension Tensor {
    /// A rank-4 batch in PyTorch's NCHW layout rearranged to Cohort's NHWC (`[n, c, h, w]` →
    /// `[n, h, w, c]`). Returns nil for any other rank.
    public func nchwToNHWC() -> Tensor? {
        guard rank == 4 else { return nil }
        let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
        let plane = h * w
        var out = [Float].uninitialized(count: count)
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    let s = src.baseAddress! + i * c * plane, d = dst.baseAddress! + i * c * plane
                    for ch in 0..<c { for p in 0..<plane { d[p * c + ch] = s[ch * plane + p] } }
                }
            }
        }
        return Tensor(shape: [n, h, w, c], data: out)
    }
}
