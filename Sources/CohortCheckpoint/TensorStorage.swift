import CohortTensor

/// How a tensor's values are stored in a checkpoint.
public enum StorageType: Equatable, Sendable, Codable {
    /// IEEE float32: exact.
    case float32
    /// IEEE float16: relative error ≤ 2⁻¹¹ for values in float16's normal range.
    case float16
    /// Symmetric int8 with one float32 scale (max |x| / 127) per block of `blockSize` values:
    /// absolute error ≤ scale / 2.
    case int8(blockSize: Int)

    var code: UInt8 {
        switch self {
        case .float32: return 0
        case .float16: return 1
        case .int8: return 2
        }
    }

    /// Bytes needed to store `count` values.
    func byteCount(_ count: Int) -> Int {
        switch self {
        case .float32: return count * 4
        case .float16: return count * 2
        case .int8(let block): return count + ((count + block - 1) / block) * 4
        }
    }

    /// Encodes values into bytes (little-endian).
    func encode(_ values: [Float]) -> [UInt8] {
        switch self {
        case .float32:
            return values.withUnsafeBytes { Array($0) }
        case .float16:
            var out = [UInt8](repeating: 0, count: values.count * 2)
            out.withUnsafeMutableBytes { raw in
                let dst = raw.bindMemory(to: UInt16.self)
                for i in 0..<values.count { dst[i] = Float16(values[i]).bitPattern.littleEndian }
            }
            return out
        case .int8(let block):
            let blocks = (values.count + block - 1) / block
            var out = [UInt8](repeating: 0, count: byteCount(values.count))
            out.withUnsafeMutableBytes { raw in
                for b in 0..<blocks {
                    let range = (b * block)..<min((b + 1) * block, values.count)
                    var maxAbs: Float = 0
                    for i in range { maxAbs = max(maxAbs, abs(values[i])) }
                    let scale = maxAbs / 127
                    raw.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: b * 4, as: UInt32.self)
                    let inv = scale > 0 ? 1 / scale : 0
                    for i in range {
                        let q = Int8(clamping: Int((values[i] * inv).rounded()))
                        raw[blocks * 4 + i] = UInt8(bitPattern: q)
                    }
                }
            }
            return out
        }
    }

    /// Decodes `count` values; throws a reason when the bytes are not a valid encoding.
    func decode(_ bytes: [UInt8], count: Int) throws(StorageDecodeError) -> [Float] {
        guard bytes.count == byteCount(count) else {
            throw StorageDecodeError("holds \(bytes.count) bytes, \(byteCount(count)) expected for \(count) values")
        }
        var out = [Float](repeating: 0, count: count)
        switch self {
        case .float32:
            _ = out.withUnsafeMutableBytes { bytes.copyBytes(to: $0) }
        case .float16:
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    out[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))
                }
            }
        case .int8(let block):
            let blocks = (count + block - 1) / block
            var bad: Int? = nil
            bytes.withUnsafeBytes { raw in
                for b in 0..<blocks {
                    let scale = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: b * 4, as: UInt32.self)))
                    if !scale.isFinite || scale < 0 { bad = b; return }
                    for i in (b * block)..<min((b + 1) * block, count) {
                        out[i] = Float(Int8(bitPattern: raw[blocks * 4 + i])) * scale
                    }
                }
            }
            if let bad { throw StorageDecodeError("int8 block \(bad) has an invalid scale") }
        }
        return out
    }
}

/// A storage payload that does not decode.
public struct StorageDecodeError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
