import CohortTensor
import Foundation

/// Reading and writing the safetensors format used by PyTorch and Hugging Face:
/// an 8-byte little-endian header length, a JSON header mapping each name to
/// `{dtype, shape, data_offsets: [begin, end]}` (offsets into the data that follows, which
/// must tile it without gaps or overlaps), an optional `__metadata__` map of strings, then the
/// raw little-endian data.
public enum Safetensors {
    /// Largest header accepted (the reference implementation uses 100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// dtypes read (converted to float32) and their element sizes.
    static let elementSize: [String: Int] = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I8": 1, "U8": 1, "BOOL": 1]

    /// A file's tensors (as float32, in header order) and metadata; integer tensors are
    /// converted exactly when they fit float32's 24-bit mantissa.
    public static func load(_ path: String) throws -> (tensors: [(name: String, value: Tensor)], metadata: [String: String]) {
        let r = try BinaryFileReader(path: path)
        let headerLength = try r.u64("header length")
        guard headerLength <= UInt64(maxHeaderBytes) else { throw r.corrupt("header length \(headerLength) exceeds \(maxHeaderBytes)", at: 0) }
        guard headerLength <= UInt64(r.remaining) else {
            throw CheckpointError.truncated(path: path, offset: 8, needed: Int(headerLength), fileSize: r.size, what: "header JSON")
        }
        let headerBytes = try r.bytes(Int(headerLength), for: "header JSON")
        guard let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any] else {
            throw r.corrupt("header is not a JSON object", at: 8)
        }
        let dataStart = r.offset
        let dataSize = r.remaining
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw r.corrupt("__metadata__ must map strings to strings", at: 8) }
                metadata = m
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw r.corrupt("entry '\(name)' lacks dtype, shape or data_offsets", at: 8)
            }
            guard let size = elementSize[dtype] else { throw r.corrupt("'\(name)': unsupported dtype \(dtype)", at: 8) }
            guard shape.allSatisfy({ $0 >= 0 }), shape.count <= 8 else { throw r.corrupt("'\(name)': bad shape \(shape)", at: 8) }
            let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= dataSize else {
                throw CheckpointError.truncated(path: path, offset: dataStart + max(offsets[0], 0), needed: max(offsets[1] - offsets[0], 0),
                                                fileSize: r.size, what: "data of '\(name)'")
            }
            guard offsets[1] - offsets[0] == count * size else {
                throw r.corrupt("'\(name)': \(offsets[1] - offsets[0]) data bytes for \(dtype) \(shape) (\(count * size) expected)", at: 8)
            }
            entries.append((name, dtype, shape, offsets[0], offsets[1]))
        }
        // The data must be tiled exactly: no gaps, no overlaps.
        var position = 0
        for e in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard e.begin == position else { throw r.corrupt("'\(e.name)': data starts at \(e.begin), expected \(position) (gap or overlap)", at: dataStart + e.begin) }
            position = e.end
        }
        guard position == dataSize else { throw r.corrupt("\(dataSize - position) bytes after the last tensor", at: dataStart + position) }
        // The entries tile the data in offset order: read them one at a time, so peak memory is
        // the tensors plus one tensor's raw bytes.
        var tensors: [(name: String, value: Tensor)] = []
        for e in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            let what = "data of '\(e.name)'"
            let values = e.dtype == "F32"
                ? try r.checkedFloats((e.end - e.begin) / 4, for: what).values
                : try r.bytes(e.end - e.begin, for: what).withUnsafeBytes { convert($0, dtype: e.dtype) }
            tensors.append((e.name, Tensor(shape: e.shape, data: values)))
        }
        return (tensors, metadata)
    }

    private static func convert(_ raw: UnsafeRawBufferPointer, dtype: String) -> [Float] {
        let n = raw.count / elementSize[dtype]!
        return (0..<n).map { i -> Float in
            switch dtype {
            case "F32": return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case "F16": return Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            case "BF16": return Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
            case "F64": return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            case "I64": return Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
            case "I32": return Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
            case "I8": return Float(Int8(bitPattern: raw[i]))
            default: return Float(raw[i])
            }
        }
    }

    /// Writes float32 tensors (in the given order) with optional metadata, atomically.
    public static func save(_ tensors: [(name: String, value: Tensor)], metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, value) in tensors {
            header[name] = ["dtype": "F32", "shape": value.shape, "data_offsets": [offset, offset + value.count * 4]] as [String: Any]
            offset += value.count * 4
        }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        let out = try AtomicFileWriter(path: path)
        try out.u64(UInt64(json.count))
        try out.write(json)
        for (_, value) in tensors { try value.data.withUnsafeBytes { try out.write(raw: $0) } }
        try out.commit()
    }
}
