import CohortCheckpoint
import CohortTensor
import FuzzSupport

/// A delta message, decoded whole (`DeltaDecoder.decode`, every tensor required and not) and
/// as a stream (`DeltaStreamDecoder`). Whole: an accepted message must hold only expected
/// tensors, with their shapes and finite values, and survive a float32 re-encode unchanged.
/// Stream: fed one byte at a time, in chunk sizes drawn from the input's CRC, and at once,
/// with dense records handed out piecewise (8-byte pieces) and folded with `DeltaFold` as the
/// coordinator does; it must accept exactly the messages the whole decoder accepts and fold
/// to the tensors it decodes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDelta(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput.bytes(data, size)
    var whole: ModelDelta?
    for requireAll in [true, false] {
        let decoder = DeltaDecoder(expectedShapes: DeltaFixtures.shapes, maxBytes: DeltaFixtures.maxBytes, requireAllTensors: requireAll)
        guard let delta = try? decoder.decode(input) else { continue }
        if requireAll { whole = delta }
        check(delta, requireAll: requireAll)
        guard let again = try? DeltaEncoder(config: DeltaCodecConfig()).encode(delta) else {
            fatalError("an accepted delta does not re-encode")
        }
        guard let back = try? decoder.decode(again), back == delta else {
            fatalError("an accepted delta does not survive a float32 re-encode")
        }
    }
    compareStreamed(input, whole: whole)
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzDeltaInit(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    FuzzInput.writeSeedsIfAsked(DeltaFixtures.seeds)
    return 0
}

func check(_ delta: ModelDelta, requireAll: Bool) {
    if requireAll && Set(delta.names) != Set(DeltaFixtures.shapes.keys) { fatalError("a required tensor is missing from an accepted delta") }
    for name in delta.names {
        guard let shape = DeltaFixtures.shapes[name], let tensor = delta.tensors[name] else { fatalError("unexpected tensor '\(name)' accepted") }
        if tensor.shape != shape { fatalError("tensor '\(name)' accepted with shape \(tensor.shape), expected \(shape)") }
        if !tensor.data.allSatisfy({ $0.isFinite }) { fatalError("tensor '\(name)' accepted with a non-finite value") }
    }
}

/// Decodes `input` as a stream in three chunkings and compares with the whole decode.
func compareStreamed(_ input: [UInt8], whole: ModelDelta?) {
    var seed = Checksums.crc32(input) | 1
    let chunkings: [() -> Int] = [
        { 1 },
        { seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5; return Int(seed % 64) + 1 },
        { input.count },
    ]
    for (index, chunk) in chunkings.enumerated() {
        let sums = streamed(input, chunk: chunk, piecewise: index != 2)
        switch (whole, sums) {
        case (nil, nil): continue
        case (nil, .some): fatalError("the stream decoder accepted a message the whole decoder refuses (chunking \(index))")
        case (.some, nil): fatalError("the stream decoder refused a message the whole decoder accepts (chunking \(index))")
        case let (.some(delta), .some(sums)):
            guard Set(sums.keys) == Set(delta.names) else { fatalError("the stream and whole decoders disagree on the tensors sent") }
            for name in delta.names where !nearlyEqual(sums[name]!, delta.tensors[name]!.data) {
                fatalError("tensor '\(name)' folds to other values than it decodes to (chunking \(index))")
            }
        }
    }
}

/// Feeds `input` in chunks of `chunk()` bytes and folds every record and piece (weight 1) into
/// zeroed sums; nil when the decoder refuses the message.
func streamed(_ input: [UInt8], chunk: () -> Int, piecewise: Bool) -> [String: [Float]]? {
    let decoder = DeltaStreamDecoder(expectedShapes: DeltaFixtures.shapes, maxBytes: DeltaFixtures.maxBytes,
                                     messageLength: input.count, pieceBytes: 8)
    var sums: [String: [Float]] = [:]
    func fold(_ name: String, _ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        guard let shape = DeltaFixtures.shapes[name] else { fatalError("the stream decoder handed out unexpected tensor '\(name)'") }
        var sum = sums[name] ?? [Float](repeating: 0, count: shape.reduce(1, *))
        sum.withUnsafeMutableBufferPointer { body($0) }
        sums[name] = sum
    }
    do {
        try input.withUnsafeBytes { all in
            var at = 0
            repeat {
                let n = min(max(chunk(), 1), all.count - at)
                try decoder.feed(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]), piecewise: piecewise,
                                 pieces: { piece in fold(piece.name) { DeltaFold.accumulate(piece, weight: 1, into: $0) } },
                                 { record in fold(record.name) { DeltaFold.accumulate(record, weight: 1, into: $0) } })
                at += n
            } while at < all.count
        }
        try decoder.finish()
    } catch {
        return nil
    }
    if !decoder.isComplete { fatalError("finish() passed but the decoder is not complete") }
    return sums
}

func nearlyEqual(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in x == y || abs(x - y) <= 1e-6 * max(abs(x), abs(y)) }
}
