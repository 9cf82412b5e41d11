/// The fixed part of one tensor record (`protocols/delta-codec.md`, "Body"): everything before
/// the index stream, scales and values, parsed and checked against the expected shapes. Shared
/// by the whole-message and the streaming decoder, so both report the same errors.
struct DeltaRecordHeader: Sendable {
    var name: String
    var shape: [Int]
    var elements: Int
    var encoding: DeltaValueEncoding
    var layout: DeltaLayout
    /// int8 values per scale; 0 for other encodings.
    var blockSize: Int
    var valueCount: Int
    /// Bytes of the index stream (sparse records; 0 for dense).
    var indexBytes: Int
    /// Bytes of the header itself.
    var headerBytes: Int
    /// Bytes after the header: index stream, int8 scales, values.
    var payloadBytes: Int
    /// What the payload holds, for truncation messages.
    var payloadDescription: String

    /// Parses a record header at `r`'s position. `isDuplicate` tells whether a name was already
    /// sent in this message. Leaves `r.tensor` set to the record's name once it is known.
    static func parse(_ r: inout ByteReader, expectedShapes: [String: [Int]],
                      isDuplicate: (String) -> Bool) throws(DeltaDecodeError) -> DeltaRecordHeader {
        r.tensor = nil
        let start = r.offset
        let nameLength = Int(try r.u16("tensor name length"))
        guard (1...DeltaFormat.maxNameBytes).contains(nameLength) else {
            throw r.error("tensor name length \(nameLength) is outside 1...\(DeltaFormat.maxNameBytes)", at: start)
        }
        let nameBytes = UnsafeRawBufferPointer(start: try r.take(nameLength, for: "tensor name"), count: nameLength)
        guard let name = String(validating: nameBytes, as: UTF8.self) else {
            throw r.error("tensor name is not valid UTF-8", at: start + 2)
        }
        r.tensor = name
        guard let shape = expectedShapes[name] else {
            throw r.error("unknown tensor name (not one of the \(expectedShapes.count) expected tensors)", at: start + 2)
        }
        guard !isDuplicate(name) else { throw r.error("duplicate tensor (it was already sent in this message)", at: start) }

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
        let stored = ValueCoding.storedBytes(count: valueCount, encoding: encoding, blockSize: max(blockSize, 1))
        var header = DeltaRecordHeader(name: name, shape: shape, elements: elements, encoding: encoding, layout: layout,
                                       blockSize: blockSize, valueCount: valueCount, indexBytes: 0, headerBytes: 0,
                                       payloadBytes: stored, payloadDescription: "")
        switch layout {
        case .dense:
            guard valueCount == elements else {
                throw r.error("dense record has \(valueCount) values, the shape \(shape) has \(elements) elements", at: countAt)
            }
            header.payloadDescription = "\(valueCount) \(encoding.name) values with their scales"
        case .sparse:
            guard valueCount <= elements else {
                throw r.error("sparse record has \(valueCount) values, more than the \(elements) elements of shape \(shape)", at: countAt)
            }
            let indexAt = r.offset
            let indexBytes = Int(try r.u32("index stream length"))
            guard indexBytes >= valueCount && indexBytes <= DeltaFormat.maxVarintBytes * valueCount else {
                throw r.error("index stream of \(indexBytes) bytes cannot hold \(valueCount) varints (needs \(valueCount)...\(DeltaFormat.maxVarintBytes * valueCount) bytes)", at: indexAt)
            }
            header.indexBytes = indexBytes
            header.payloadBytes += indexBytes
            header.payloadDescription = "index stream and \(valueCount) \(encoding.name) values with their scales"
        }
        header.headerBytes = r.offset - start
        return header
    }

    /// How many bytes of a record header must be at hand before `parse` can finish or fail on
    /// them, given the first `available.count` bytes of the record; grows as fields are read.
    static func bytesNeeded(_ available: UnsafeRawBufferPointer) -> Int {
        guard available.count >= 2 else { return 2 }
        let nameLength = Int(available.loadUnaligned(as: UInt16.self).littleEndian)
        guard (1...DeltaFormat.maxNameBytes).contains(nameLength) else { return 2 }
        let rankAt = 2 + nameLength
        guard available.count > rankAt else { return rankAt + 1 }
        let rank = Int(available[rankAt])
        guard rank <= DeltaFormat.maxRank else { return rankAt + 1 }
        let layoutAt = rankAt + 1 + 4 * rank + 1
        let fixed = layoutAt + 1 + 4 + 4
        guard available.count > layoutAt else { return fixed }
        return available[layoutAt] == DeltaLayout.sparse.rawValue ? fixed + 4 : fixed
    }

    /// Throws the truncation error for a record whose payload needs more than the `available`
    /// bytes left in the body, at `r`'s position (just after the header).
    func requirePayload(available: Int, reader r: ByteReader) throws(DeltaDecodeError) {
        guard payloadBytes <= available else {
            throw r.error("truncated: \(payloadDescription) needs \(payloadBytes) bytes, only \(available) left")
        }
    }
}
