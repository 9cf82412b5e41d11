import CohortCheckpoint
import CohortTensor

/// Builders shared by the delta codec tests: random deltas and hand-assembled messages.
enum DeltaTestSupport {
    /// A delta of normal values (std `scale`) with the given shapes, in order.
    static func randomDelta(_ shapes: [(String, [Int])], seed: UInt64, scale: Float = 0.01) -> ModelDelta {
        var rng = SeededRandom(seed: seed)
        let entries = shapes.map { name, shape in
            (name: name, value: Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() * scale }))
        }
        return try! ModelDelta(entries)
    }

    static func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func f32(_ v: Float) -> [UInt8] { le32(v.bitPattern) }

    /// The 28-byte header.
    static func header(version: UInt16 = 1, flags: UInt16 = 0, tensors: UInt32, bodySize: UInt64, storedSize: UInt64? = nil) -> [UInt8] {
        DeltaFormat.magic + le16(version) + le16(flags) + le32(tensors) + le64(bodySize) + le64(storedSize ?? bodySize)
    }

    /// One tensor record, with every field given explicitly.
    static func record(name: String, shape: [UInt32], encoding: UInt8 = 0, layout: UInt8 = 0, blockSize: UInt32 = 0,
                       count: UInt32, index: [UInt8]? = nil, payload: [UInt8]) -> [UInt8] {
        var r = le16(UInt16(name.utf8.count)) + Array(name.utf8) + [UInt8(shape.count)]
        for d in shape { r += le32(d) }
        r += [encoding, layout] + le32(blockSize) + le32(count)
        if let index { r += le32(UInt32(index.count)) + index }
        return r + payload
    }

    /// An uncompressed message of the given records.
    static func message(_ records: [[UInt8]], tensors: UInt32? = nil) -> [UInt8] {
        let body = records.flatMap { $0 }
        return header(tensors: tensors ?? UInt32(records.count), bodySize: UInt64(body.count)) + body
    }

    /// Every finite, in-range check a decoded delta must pass against `shapes`.
    static func isSane(_ delta: ModelDelta, shapes: [String: [Int]]) -> Bool {
        delta.names.allSatisfy { name in
            guard let t = delta[name], let s = shapes[name] else { return false }
            return t.shape == s && t.isFinite
        }
    }
}
