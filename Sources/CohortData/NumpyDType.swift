/// The element types a `.npy` array may hold for Cohort: numbers and booleans, little- or
/// big-endian, all read into `Float`.
public struct NumpyDType: Sendable, Equatable, CustomStringConvertible {
    /// The kind of number.
    public enum Kind: Sendable, Equatable {
        case float, signed, unsigned, bool
    }

    /// The kind of number.
    public let kind: Kind
    /// Bytes per element (1, 2, 4 or 8).
    public let itemSize: Int
    /// Whether multi-byte elements are stored most significant byte first (`>`).
    public let bigEndian: Bool

    /// The descriptor numpy writes, e.g. `<f4`, `|u1`.
    public var description: String {
        let order = itemSize == 1 ? "|" : bigEndian ? ">" : "<"
        let code: String
        switch kind {
        case .float: code = "f"
        case .signed: code = "i"
        case .unsigned: code = "u"
        case .bool: code = "b"
        }
        return order + code + String(itemSize)
    }

    /// Little-endian float32, the type Cohort writes.
    public static let float32 = NumpyDType(kind: .float, itemSize: 4, bigEndian: false)

    /// Parses a descriptor such as `<f4`, `>i2`, `|u1`, `|b1`: byte order `<`, `>`, `|` or `=`
    /// (native, little-endian here), kind `f` (2, 4, 8 bytes), `i` / `u` (1, 2, 4, 8), `b` (1).
    /// Returns nil for anything else (complex, strings, objects, datetimes, structured types).
    public init?(descriptor: String) {
        let chars = Array(descriptor.utf8)
        guard chars.count >= 3, let size = Int(String(decoding: chars[2...], as: UTF8.self)) else { return nil }
        let big: Bool
        switch chars[0] {
        case UInt8(ascii: "<"), UInt8(ascii: "="): big = false
        case UInt8(ascii: ">"): big = true
        case UInt8(ascii: "|"): guard size == 1 else { return nil }; big = false
        default: return nil
        }
        let kind: Kind
        switch chars[1] {
        case UInt8(ascii: "f"): guard [2, 4, 8].contains(size) else { return nil }; kind = .float
        case UInt8(ascii: "i"): guard [1, 2, 4, 8].contains(size) else { return nil }; kind = .signed
        case UInt8(ascii: "u"): guard [1, 2, 4, 8].contains(size) else { return nil }; kind = .unsigned
        case UInt8(ascii: "b"): guard size == 1 else { return nil }; kind = .bool
        default: return nil
        }
        self.init(kind: kind, itemSize: size, bigEndian: big && size > 1)
    }

    init(kind: Kind, itemSize: Int, bigEndian: Bool) {
        self.kind = kind
        self.itemSize = itemSize
        self.bigEndian = bigEndian
    }

    /// Whether the raw bytes are already host float32 (read straight into the result).
    var isHostFloat32: Bool {
        #if _endian(little)
        return kind == .float && itemSize == 4 && !bigEndian
        #else
        return kind == .float && itemSize == 4 && bigEndian
        #endif
    }

    /// Converts `out.count` elements of this type from `raw` into `out`.
    func convert(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) {
        let n = out.count
        switch (kind, itemSize) {
        case (.bool, _): for i in 0..<n { out[i] = raw[i] != 0 ? 1 : 0 }
        case (.unsigned, 1): for i in 0..<n { out[i] = Float(raw[i]) }
        case (.signed, 1): for i in 0..<n { out[i] = Float(Int8(bitPattern: raw[i])) }
        case (.unsigned, 2): for i in 0..<n { out[i] = Float(u16(raw, i)) }
        case (.signed, 2): for i in 0..<n { out[i] = Float(Int16(bitPattern: u16(raw, i))) }
        case (.float, 2): for i in 0..<n { out[i] = Self.halfToFloat(u16(raw, i)) }
        case (.unsigned, 4): for i in 0..<n { out[i] = Float(u32(raw, i)) }
        case (.signed, 4): for i in 0..<n { out[i] = Float(Int32(bitPattern: u32(raw, i))) }
        case (.float, 4): for i in 0..<n { out[i] = Float(bitPattern: u32(raw, i)) }
        case (.unsigned, 8): for i in 0..<n { out[i] = Float(u64(raw, i)) }
        case (.signed, 8): for i in 0..<n { out[i] = Float(Int64(bitPattern: u64(raw, i))) }
        default: for i in 0..<n { out[i] = Float(Double(bitPattern: u64(raw, i))) }
        }
    }

    private func u16(_ raw: UnsafeRawBufferPointer, _ i: Int) -> UInt16 {
        let v = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
        return bigEndian ? UInt16(bigEndian: v) : UInt16(littleEndian: v)
    }

    private func u32(_ raw: UnsafeRawBufferPointer, _ i: Int) -> UInt32 {
        let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: v) : UInt32(littleEndian: v)
    }

    private func u64(_ raw: UnsafeRawBufferPointer, _ i: Int) -> UInt64 {
        let v = raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
        return bigEndian ? UInt64(bigEndian: v) : UInt64(littleEndian: v)
    }

    /// IEEE 754 binary16 → binary32 (exact: every half value is a float value).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }   // inf, nan
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
    }
}
