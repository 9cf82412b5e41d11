/// SIMD loops over float buffers used by the delta codec. Every function accepts a `nil`
/// pointer when `count` is 0 (empty arrays have no base address).
enum DeltaKernels {
    static let exponentMask = SIMD8<UInt32>(repeating: 0x7F80_0000)
    static let magnitudeMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)

    /// `out = a − b`.
    static func subtract(_ a: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>?, count: Int) {
        guard count > 0, let a, let b, let out else { return }
        let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b), orr = UnsafeMutableRawPointer(out)
        var i = 0
        while i &+ 8 <= count {
            let x = ar.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let y = br.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            orr.storeBytes(of: x - y, toByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < count { out[i] = a[i] - b[i]; i &+= 1 }
    }

    /// `out = a + b`; returns whether every result is finite.
    static func add(_ a: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>?, count: Int) -> Bool {
        guard count > 0, let a, let b, let out else { return true }
        let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b), orr = UnsafeMutableRawPointer(out)
        var worst = SIMD8<UInt32>(repeating: 0)
        var i = 0
        while i &+ 8 <= count {
            let s = ar.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                + br.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            orr.storeBytes(of: s, toByteOffset: i &* 4, as: SIMD8<Float>.self)
            worst = pointwiseMax(worst, s.bitPattern & exponentMask)
            i &+= 8
        }
        var finite = worst.max() != 0x7F80_0000
        while i < count { out[i] = a[i] + b[i]; finite = finite && out[i].isFinite; i &+= 1 }
        return finite
    }

    /// Index of the first NaN or infinity, or nil when all `count` values are finite.
    static func firstNonFinite(_ p: UnsafeRawPointer?, count: Int) -> Int? {
        guard count > 0, let p else { return nil }
        var worst = SIMD8<UInt32>(repeating: 0)
        var i = 0
        while i &+ 8 <= count {
            worst = pointwiseMax(worst, p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<UInt32>.self) & exponentMask)
            i &+= 8
        }
        var bad = worst.max() == 0x7F80_0000
        while i < count && !bad {
            bad = p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self).isFinite == false
            i &+= 1
        }
        guard bad else { return nil }
        for j in 0..<count where !p.loadUnaligned(fromByteOffset: j &* 4, as: Float.self).isFinite { return j }
        return nil
    }

    /// The largest magnitude among `count` finite values (0 when empty).
    static func maxMagnitude(_ p: UnsafePointer<Float>, count: Int) -> Float {
        let r = UnsafeRawPointer(p)
        var m = SIMD8<UInt32>(repeating: 0)
        var i = 0
        while i &+ 8 <= count {
            m = pointwiseMax(m, r.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<UInt32>.self) & magnitudeMask)
            i &+= 8
        }
        var best = m.max()
        while i < count { best = max(best, p[i].bitPattern & 0x7FFF_FFFF); i &+= 1 }
        return Float(bitPattern: best)
    }
}

extension SIMD8 where Scalar == Float {
    /// The lanes' bit patterns.
    @inline(__always) var bitPattern: SIMD8<UInt32> { unsafeBitCast(self, to: SIMD8<UInt32>.self) }
}
