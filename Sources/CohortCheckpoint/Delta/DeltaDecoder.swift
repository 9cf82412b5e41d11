import CohortTensor

/// Decodes and checks a delta message from an untrusted sender.
///
/// The decoder knows the shapes the model expects and a byte budget; every size declared in
/// the message is bounded by those (and by the bytes actually present) before anything is
/// allocated, so a hostile message costs at most `maxBytes` of inflated body plus the model's
/// own tensor sizes. Any problem — wrong magic, unsupported version, truncation, a size over a
/// limit, an unknown, duplicate or missing tensor, a shape mismatch, a count or index out of
/// range, indices not strictly increasing, a non-finite value or scale, trailing bytes —
/// throws a `DeltaDecodeError` naming the tensor, the byte offset and the problem. A message
/// is either accepted whole or rejected; there is no partial result.
public struct DeltaDecoder: Sendable {
    /// The tensors a message may carry, by name, with their shapes.
    public let expectedShapes: [String: [Int]]
    /// The largest accepted message, and the largest accepted inflated body, in bytes.
    public let maxBytes: Int
    /// Whether every expected tensor must be present (the default). When false, absent tensors
    /// are simply not in the result.
    public let requireAllTensors: Bool

    /// A decoder for a model with the given tensor shapes. Shapes must have non-negative
    /// dimensions and at most `DeltaFormat.maxElementsPerTensor` elements.
    public init(expectedShapes: [String: [Int]], maxBytes: Int, requireAllTensors: Bool = true) {
        for (name, shape) in expectedShapes {
            precondition(shape.allSatisfy { $0 >= 0 } && shape.count <= DeltaFormat.maxRank
                         && shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).partialValue }) <= DeltaFormat.maxElementsPerTensor,
                         "expected shape \(shape) of '\(name)' is not a valid delta tensor shape")
        }
        precondition(maxBytes >= 0, "maxBytes must be ≥ 0, got \(maxBytes)")
        self.expectedShapes = expectedShapes
        self.maxBytes = maxBytes
        self.requireAllTensors = requireAllTensors
    }

    /// Decodes a message held in an array.
    public func decode(_ bytes: [UInt8]) throws(DeltaDecodeError) -> ModelDelta {
        try bytes.withUnsafeBytes { b in Result { () throws(DeltaDecodeError) in try decode(b) } }.get()
    }

    /// Decodes a message.
    public func decode(_ bytes: UnsafeRawBufferPointer) throws(DeltaDecodeError) -> ModelDelta {
        guard bytes.count <= maxBytes else {
            throw DeltaDecodeError("message is \(bytes.count) bytes, over the budget of \(maxBytes)")
        }
        var r = ByteReader(bytes, reportedOrigin: 0, inBody: false)
        let magic = try r.take(4, for: "magic")
        let found = (0..<4).map { magic.load(fromByteOffset: $0, as: UInt8.self) }
        guard found == DeltaFormat.magic else {
            throw r.error("wrong magic \(Self.hex(found)), expected \(Self.hex(DeltaFormat.magic)) ('CDLT')", at: 0)
        }
        let version = try r.u16("format version")
        guard version == DeltaFormat.version else {
            throw r.error("unsupported format version \(version) (this decoder reads version \(DeltaFormat.version))", at: 4)
        }
        let flags = try r.u16("flags")
        guard flags & ~DeltaFormat.flagZlib == 0 else {
            throw r.error("unknown flag bits 0x\(String(flags & ~DeltaFormat.flagZlib, radix: 16)) (known: 0x1 zlib)", at: 6)
        }
        let tensorCount = Int(try r.u32("tensor count"))
        guard tensorCount <= expectedShapes.count else {
            throw r.error("declares \(tensorCount) tensors, the model expects at most \(expectedShapes.count)", at: 8)
        }
        let bodySize64 = try r.u64("body size")
        guard bodySize64 <= UInt64(maxBytes) else {
            throw r.error("declared body size \(bodySize64) is over the budget of \(maxBytes) bytes", at: 12)
        }
        let bodySize = Int(bodySize64)
        let storedSize64 = try r.u64("stored body size")
        guard storedSize64 <= UInt64(r.remaining) else {
            throw r.error("truncated: stored body needs \(storedSize64) bytes, only \(r.remaining) left")
        }
        guard storedSize64 == UInt64(r.remaining) else {
            throw r.error("trailing garbage: \(UInt64(r.remaining) - storedSize64) bytes after the body", at: r.offset + Int(storedSize64))
        }
        let stored = UnsafeRawBufferPointer(rebasing: bytes[r.offset...])
        if flags & DeltaFormat.flagZlib == 0 {
            guard bodySize == stored.count else {
                throw r.error("uncompressed body: stored size \(stored.count) differs from the declared body size \(bodySize)", at: 20)
            }
            var body = ByteReader(stored, reportedOrigin: DeltaFormat.headerSize, inBody: false)
            return try decodeBody(&body, tensorCount: tensorCount)
        }
        let inflated: [UInt8]
        do {
            inflated = try Zlib.decompress(stored, expectedCount: bodySize)
        } catch {
            throw r.error("zlib body: \(error.description)")
        }
        return try inflated.withUnsafeBytes { b in
            Result { () throws(DeltaDecodeError) in
                var body = ByteReader(b, reportedOrigin: 0, inBody: true)
                return try decodeBody(&body, tensorCount: tensorCount)
            }
        }.get()
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { b in let s = String(b, radix: 16, uppercase: true); return s.count == 1 ? "0" + s : s }.joined(separator: " ")
    }

    private func decodeBody(_ r: inout ByteReader, tensorCount: Int) throws(DeltaDecodeError) -> ModelDelta {
        var names: [String] = []
        var tensors: [String: Tensor] = [:]
        for _ in 0..<tensorCount {
            let (name, tensor) = try decodeRecord(&r, seen: tensors)
            names.append(name)
            tensors[name] = tensor
        }
        r.tensor = nil
        guard r.remaining == 0 else {
            throw r.error("trailing garbage: \(r.remaining) bytes after the last of \(tensorCount) tensors")
        }
        if requireAllTensors, let missing = expectedShapes.keys.sorted().first(where: { tensors[$0] == nil }) {
            throw DeltaDecodeError("tensor is missing (every expected tensor must be sent)", tensor: missing)
        }
        return ModelDelta(validatedNames: names, tensors: tensors)
    }

    private func decodeRecord(_ r: inout ByteReader, seen: [String: Tensor]) throws(DeltaDecodeError) -> (String, Tensor) {
        r.tensor = nil
        let nameAt = r.offset
        let nameLength = Int(try r.u16("tensor name length"))
        guard (1...DeltaFormat.maxNameBytes).contains(nameLength) else {
            throw r.error("tensor name length \(nameLength) is outside 1...\(DeltaFormat.maxNameBytes)", at: nameAt)
        }
        let nameBytes = UnsafeRawBufferPointer(start: try r.take(nameLength, for: "tensor name"), count: nameLength)
        guard let name = String(validating: nameBytes, as: UTF8.self) else {
            throw r.error("tensor name is not valid UTF-8", at: nameAt + 2)
        }
        r.tensor = name
        guard let shape = expectedShapes[name] else {
            throw r.error("unknown tensor name (not one of the \(expectedShapes.count) expected tensors)", at: nameAt + 2)
        }
        guard seen[name] == nil else { throw r.error("duplicate tensor (it was already sent in this message)", at: nameAt) }

        let rankAt = r.offset
        let rank = Int(try r.u8("rank"))
        guard rank <= DeltaFormat.maxRank else {
            throw r.error("rank \(rank) exceeds the limit of \(DeltaFormat.maxRank)", at: rankAt)
        }
        var dims: [Int] = []
        for _ in 0..<rank { dims.append(Int(try r.u32("dimension"))) }
        guard dims == shape else { throw r.error("shape \(dims) differs from the expected \(shape)", at: rankAt) }
        let elements = shape.reduce(1, *)

        let encodingAt = r.offset
        let encodingByte = try r.u8("value encoding")
        guard let encoding = DeltaValueEncoding(rawValue: encodingByte) else {
            throw r.error("unknown value encoding \(encodingByte) (known: 0 float32, 1 float16, 2 int8)", at: encodingAt)
        }
        let layoutByte = try r.u8("layout")
        guard let layout = DeltaLayout(rawValue: layoutByte) else {
            throw r.error("unknown layout \(layoutByte) (known: 0 dense, 1 sparse)", at: encodingAt + 1)
        }
        let blockAt = r.offset
        let blockSize = Int(try r.u32("block size"))
        if encoding == .int8 {
            guard (1...DeltaFormat.maxBlockSize).contains(blockSize) else {
                throw r.error("int8 block size \(blockSize) is outside 1...\(DeltaFormat.maxBlockSize)", at: blockAt)
            }
        } else if blockSize != 0 {
            throw r.error("block size \(blockSize) given for \(encoding.name) values (must be 0)", at: blockAt)
        }
        let countAt = r.offset
        let valueCount = Int(try r.u32("value count"))
        switch layout {
        case .dense:
            guard valueCount == elements else {
                throw r.error("dense record has \(valueCount) values, the shape \(shape) has \(elements) elements", at: countAt)
            }
            let stored = ValueCoding.storedBytes(count: valueCount, encoding: encoding, blockSize: max(blockSize, 1))
            try r.need(stored, for: "\(valueCount) \(encoding.name) values with their scales")
            var data = [Float].uninitialized(count: elements)
            try Self.readValues(count: valueCount, encoding: encoding, blockSize: blockSize, from: &r, into: &data)
            return (name, Tensor(shape: shape, data: data))
        case .sparse:
            guard valueCount <= elements else {
                throw r.error("sparse record has \(valueCount) values, more than the \(elements) elements of shape \(shape)", at: countAt)
            }
            let indexAt = r.offset
            let indexBytes = Int(try r.u32("index stream length"))
            guard indexBytes >= valueCount && indexBytes <= DeltaFormat.maxVarintBytes * valueCount else {
                throw r.error("index stream of \(indexBytes) bytes cannot hold \(valueCount) varints (needs \(valueCount)...\(DeltaFormat.maxVarintBytes * valueCount) bytes)", at: indexAt)
            }
            let stored = ValueCoding.storedBytes(count: valueCount, encoding: encoding, blockSize: max(blockSize, 1))
            try r.need(indexBytes + stored, for: "index stream and \(valueCount) \(encoding.name) values with their scales")
            let streamAt = r.offset
            let stream = try r.take(indexBytes, for: "index stream").assumingMemoryBound(to: UInt8.self)
            let indices = try Self.readIndices(stream, length: indexBytes, count: valueCount, elements: elements, reader: r, at: streamAt)
            var values = [Float].uninitialized(count: valueCount)
            try Self.readValues(count: valueCount, encoding: encoding, blockSize: blockSize, from: &r, into: &values)
            var data = [Float](repeating: 0, count: elements)
            data.withUnsafeMutableBufferPointer { d in
                values.withUnsafeBufferPointer { v in
                    for j in 0..<valueCount { d[Int(indices[j])] = v[j] }
                }
            }
            return (name, Tensor(shape: shape, data: data))
        }
    }

    private static func readValues(count: Int, encoding: DeltaValueEncoding, blockSize: Int, from r: inout ByteReader,
                                   into out: inout [Float]) throws(DeltaDecodeError) {
        guard count > 0 else { return }
        try out.withUnsafeMutableBufferPointer { o in
            Result { () throws(DeltaDecodeError) in
                try ValueCoding.read(count: count, encoding: encoding, blockSize: blockSize, from: &r, into: o.baseAddress!)
            }
        }.get()
    }

    /// Decodes `count` LEB128 gaps into strictly increasing indices below `elements`.
    private static func readIndices(_ p: UnsafePointer<UInt8>, length: Int, count: Int, elements: Int,
                                    reader r: ByteReader, at origin: Int) throws(DeltaDecodeError) -> [UInt32] {
        var indices = [UInt32](repeating: 0, count: count)
        var pos = 0
        var previous = -1
        for j in 0..<count {
            let start = pos
            var gap = 0
            var shift = 0
            while true {
                guard pos < length else {
                    throw r.error("index stream ends inside varint \(j) of \(count)", at: origin + start)
                }
                let byte = p[pos]
                pos &+= 1
                gap |= Int(byte & 0x7F) << shift
                if byte < 0x80 {
                    if byte == 0 && shift > 0 { throw r.error("varint \(j) has a redundant zero byte (not minimal)", at: origin + start) }
                    break
                }
                shift += 7
                guard shift < 7 * DeltaFormat.maxVarintBytes else {
                    throw r.error("varint \(j) is longer than \(DeltaFormat.maxVarintBytes) bytes", at: origin + start)
                }
            }
            guard gap > 0 else {
                throw r.error("index \(j) repeats the previous index \(previous) (indices must be strictly increasing)", at: origin + start)
            }
            let index = previous + gap
            guard index < elements else {
                throw r.error("index \(j) is \(index), out of range 0..<\(elements)", at: origin + start)
            }
            indices[j] = UInt32(index)
            previous = index
        }
        guard pos == length else {
            throw r.error("index stream has \(length - pos) bytes left after its \(count) indices", at: origin + pos)
        }
        return indices
    }
}
