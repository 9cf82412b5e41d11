/// Selecting the k largest-magnitude elements of a float buffer in expected O(n) time.
///
/// The selection is **exact**: it returns exactly `k` indices, every unselected element has a
/// magnitude no larger than every selected one, and among elements tied at the k-th magnitude
/// the lowest indices win. Method: estimate a magnitude threshold from a fixed, deterministic
/// sample of 32768 elements, taken a little below the expected k-th largest so that (almost
/// always) at least k elements pass it; collect the candidates that pass in one SIMD pass;
/// then find the exact k-th largest magnitude among the candidates with a three-way
/// quickselect. If too few pass, the threshold is lowered and the pass repeated (at worst
/// down to zero, which passes everything). Magnitudes are compared as the integer bit patterns
/// of `|x|`, which order exactly like the floats for finite values; inputs must be finite.
public enum TopKSelection {
    /// Indices of the `k` largest-magnitude values, ascending. Values must be finite.
    public static func indices(of values: [Float], k: Int) -> [Int] {
        values.withUnsafeBufferPointer { p in
            select(p.baseAddress, count: p.count, k: k).map(Int.init)
        }
    }

    /// Indices (ascending) of the `k` largest `|x[i]|`, ties broken by lower index.
    static func select(_ x: UnsafePointer<Float>?, count n: Int, k: Int) -> [UInt32] {
        precondition(n <= DeltaFormat.maxElementsPerTensor, "top-k over \(n) elements exceeds \(DeltaFormat.maxElementsPerTensor)")
        guard k > 0, let x else { return [] }
        if k >= n { return (0..<UInt32(n)).map { $0 } }
        var candidates: [UInt32]
        if n <= 1 << 16 {
            candidates = []   // every element is a candidate
        } else {
            candidates = sampledCandidates(x, count: n, k: k)
        }
        let all = candidates.isEmpty
        let m = all ? n : candidates.count
        // Exact k-th largest magnitude among the candidates.
        var keys = [UInt32](unsafeUninitializedCapacity: m) { buf, done in
            if all {
                for i in 0..<n { buf[i] = x[i].bitPattern & 0x7FFF_FFFF }
            } else {
                for (j, i) in candidates.enumerated() { buf[j] = x[Int(i)].bitPattern & 0x7FFF_FFFF }
            }
            done = m
        }
        let kth = keys.withUnsafeMutableBufferPointer { kthLargest($0, k: k) }
        var greater = 0
        keys.withUnsafeBufferPointer { for v in $0 where v > kth { greater &+= 1 } }
        var ties = k - greater
        var out = [UInt32]()
        out.reserveCapacity(k)
        if all {
            for i in 0..<n {
                let v = x[i].bitPattern & 0x7FFF_FFFF
                if v > kth || (v == kth && ties > 0) {
                    if v == kth { ties -= 1 }
                    out.append(UInt32(i))
                }
            }
        } else {
            for i in candidates {
                let v = x[Int(i)].bitPattern & 0x7FFF_FFFF
                if v > kth || (v == kth && ties > 0) {
                    if v == kth { ties -= 1 }
                    out.append(i)
                }
            }
        }
        return out
    }

    /// Indices (ascending) of all elements at or above a sampled threshold; at least `k` of them.
    private static func sampledCandidates(_ x: UnsafePointer<Float>, count n: Int, k: Int) -> [UInt32] {
        let samples = 1 << 15
        let stride = n / samples
        var sample = [UInt32](unsafeUninitializedCapacity: samples) { buf, done in
            var h: UInt64 = 0x9E37_79B9_7F4A_7C15
            for j in 0..<samples {
                h = h &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let pos = j &* stride &+ Int((h >> 33) % UInt64(stride))
                buf[j] = x[pos].bitPattern & 0x7FFF_FFFF
            }
            done = samples
        }
        // Expected rank of the k-th largest in the sample, plus a safety margin of ~4 sigma.
        let expected = Double(k) * Double(samples) / Double(n)
        var rank = min(samples, Int(expected * 1.05 + 4 * expected.squareRoot() + 8))
        while true {
            let threshold = rank >= samples ? 0 : sample.withUnsafeMutableBufferPointer { kthLargest($0, k: rank) }
            let found = collect(x, count: n, atLeast: threshold, reserve: k + k / 4 + 64)
            if found.count >= k { return found }
            rank = min(samples, rank * 4)
        }
    }

    /// Indices (ascending) of the elements whose magnitude bits are ≥ `threshold`.
    static func collect(_ x: UnsafePointer<Float>, count n: Int, atLeast threshold: UInt32, reserve: Int) -> [UInt32] {
        var out = [UInt32]()
        out.reserveCapacity(reserve)
        let raw = UnsafeRawPointer(x)
        // Compare as signed 32-bit: magnitude bits are at most 0x7FFFFFFF, so the order is kept.
        let t = SIMD8<Int32>(repeating: Int32(bitPattern: threshold) &- 1)
        let mask = SIMD8<Int32>(repeating: 0x7FFF_FFFF)
        var i = 0
        while i &+ 8 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Int32>.self) & mask
            if any(v .> t) {
                for j in 0..<8 where v[j] > t[j] { out.append(UInt32(i &+ j)) }
            }
            i &+= 8
        }
        while i < n {
            if x[i].bitPattern & 0x7FFF_FFFF >= threshold { out.append(UInt32(i)) }
            i &+= 1
        }
        return out
    }

    /// The k-th largest value (k ≥ 1) of a buffer, reordering it. Three-way quickselect with a
    /// median-of-three pivot: expected O(n), and runs of equal values cost one pass.
    static func kthLargest(_ a: UnsafeMutableBufferPointer<UInt32>, k: Int) -> UInt32 {
        precondition(k >= 1 && k <= a.count, "k-th largest needs 1 ≤ k ≤ \(a.count), got \(k)")
        let target = k - 1   // position in descending order
        var lo = 0, hi = a.count - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            let x = a[lo], y = a[mid], z = a[hi]
            let pivot = max(min(x, y), min(max(x, y), z))
            // [lo, lt) > pivot, [lt, i) == pivot, (gt, hi] < pivot.
            var lt = lo, i = lo, gt = hi
            while i <= gt {
                let v = a[i]
                if v > pivot {
                    a.swapAt(lt, i); lt &+= 1; i &+= 1
                } else if v < pivot {
                    a.swapAt(i, gt); gt &-= 1
                } else {
                    i &+= 1
                }
            }
            if target < lt { hi = lt - 1 } else if target > gt { lo = gt + 1 } else { return pivot }
        }
        return a[lo]
    }
}
