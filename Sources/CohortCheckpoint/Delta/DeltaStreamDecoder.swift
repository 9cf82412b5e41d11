import CohortData
/// Decodes a delta message (`protocols/delta-codec.md`) as its bytes arrive, in pieces of
/// any size, handing out each tensor record as soon as it is complete and checked.
///
/// The message length is known up front (a streamed message announces it), so every size
/// check of `DeltaDecoder` happens at the same point: the length against the budget, the
/// stored size against the bytes that will follow, each record's size against what is left of
/// the body, before anything is allocated for it. Memory held is one record at a time: a
/// record lying whole inside the fed bytes is handed out in place; one split across feeds is
/// gathered (or inflated, for a zlib body) into its own buffer, allocated once its header has
/// been checked, and handed out owning it. Or, when the receiver asks for it
/// (`feed(_:piecewise:pieces:_:)`), a large dense record is handed out in checked pieces as its
/// bytes arrive, so not even one record is held whole (`DeltaRecordPiece`).
///
/// Errors are the same as `DeltaDecoder`'s, found in stream order: the first problem in the
/// bytes as they arrive (a record error before a zlib error further on).
public final class DeltaStreamDecoder {
    /// The tensors a message may carry, by name, with their shapes.
    public let expectedShapes: [String: [Int]]
    /// The largest accepted message, and the largest accepted inflated body, in bytes.
    public let maxBytes: Int
    /// Whether every expected tensor must be present.
    public let requireAllTensors: Bool
    /// The message's length in bytes, as announced.
    public let messageLength: Int
    /// Payload bytes from which a dense record may be handed out in pieces, and the largest
    /// piece in bytes.
    public let pieceBytes: Int

    private var fed = 0
    private var header: [UInt8] = []
    private var started = false
    private var tensorCount = 0
    private var bodySize = 0
    /// Body bytes produced so far (read, or inflated).
    private var bodyDone = 0
    private var inflater: StreamInflater?
    /// Stored (compressed) bytes still to come, for a zlib body.
    private var storedLeft = 0
    private var seen = Set<String>()
    private var recordsDone = 0
    /// The current record's header bytes gathered so far, and where the record starts in the body.
    private var prefix: [UInt8] = []
    private var recordStart = 0
    /// The current record once its header is checked: its buffer, header, and bytes filled.
    private var pending: (header: DeltaRecordHeader, storage: RecordStorage, base: UnsafeMutableRawPointer, filled: Int)?
    /// The current record's values scanned as they were gathered (dense float32, plain body).
    private var gatherScan: (scan: Float32Scan, values: Int)?
    /// The current record while it is handed out in pieces.
    var piecing: PieceState?
    /// Where pieces are gathered (`pieceBytes`, made when first needed).
    var scratch: RecordStorage?
    private var failure: (any Error)?

    /// A decoder for a message of `messageLength` bytes, for a model with the given shapes.
    /// With `feed(_:piecewise:pieces:_:)`, dense records of more than `pieceBytes` payload bytes
    /// may come out in pieces of at most `pieceBytes`.
    public init(expectedShapes: [String: [Int]], maxBytes: Int, requireAllTensors: Bool = true, messageLength: Int,
                pieceBytes: Int = 64 << 10) {
        precondition(messageLength >= 0, "message length must be ≥ 0")
        precondition(pieceBytes >= 4, "pieces must hold at least one value (4 bytes), got \(pieceBytes)")
        self.expectedShapes = expectedShapes
        self.maxBytes = maxBytes
        self.requireAllTensors = requireAllTensors
        self.messageLength = messageLength
        self.pieceBytes = pieceBytes
    }

    /// Whether every record has been handed out and every byte accounted for so far.
    public var isComplete: Bool { started && recordsDone == tensorCount && bodyDone == bodySize && fed == messageLength }

    /// Feeds the next bytes of the message; calls `emit` with each record they complete, in
    /// message order. A record not owning its bytes (`isOwned` false) points into `bytes`.
    /// After an error the decoder refuses further input.
    public func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (DeltaRecord) throws -> Void) throws {
        try feed(bytes, piecewise: false, pieces: { _ in }, emit)
    }

    /// Feeds the next bytes of the message, as `feed(_:_:)`, except that with `piecewise` a
    /// dense record of more than `pieceBytes` payload bytes that does not lie whole in `bytes`
    /// is not gathered: it goes to `pieces`, a checked run of whole values at a time, as its
    /// bytes arrive (one being gathered is handed out from what it holds so far). A record
    /// started in pieces goes on in pieces whatever later calls ask, so `pieces` must be ready
    /// to take them until it ends. When a value is found bad, the values before it in the
    /// record have been handed out (whatever the feeds' sizes), and the error is thrown.
    public func feed(_ bytes: UnsafeRawBufferPointer, piecewise: Bool, pieces: (DeltaRecordPiece) throws -> Void,
                     _ emit: (DeltaRecord) throws -> Void) throws {
        if let failure { throw failure }
        do { try consume(bytes, piecewise: piecewise, pieces: pieces, emit) } catch {
            failure = error
            throw error
        }
    }

    /// Checks that the whole message was fed and nothing is missing (no record cut off, every
    /// expected tensor present when required, a zlib stream that ended where it should).
    public func finish() throws(DeltaDecodeError) {
        if let failure { throw failure as? DeltaDecodeError ?? DeltaDecodeError("decoding was abandoned: \(failure)") }
        guard fed == messageLength else {
            throw DeltaDecodeError("truncated: got \(fed) of the \(messageLength) announced bytes")
        }
        if !started {   // an empty message
            do { try parseHeader() } catch { throw error as? DeltaDecodeError ?? DeltaDecodeError("\(error)") }
        }
        if let inflater, !inflater.ended || storedLeft > 0 {
            throw zlibError(inflater.ended ? "\(storedLeft) bytes after the end of the zlib stream" : "stream is truncated")
        }
        if requireAllTensors, let missing = expectedShapes.keys.sorted().first(where: { !seen.contains($0) }) {
            throw DeltaDecodeError("tensor is missing (every expected tensor must be sent)", tensor: missing)
        }
    }

    private func consume(_ bytes: UnsafeRawBufferPointer, piecewise: Bool, pieces: (DeltaRecordPiece) throws -> Void,
                         _ emit: (DeltaRecord) throws -> Void) throws {
        precondition(fed + bytes.count <= messageLength, "fed \(fed + bytes.count) bytes to a decoder of a \(messageLength)-byte message")
        fed += bytes.count
        var input = bytes
        if !started {
            let want = min(DeltaFormat.headerSize, messageLength) - header.count
            let take = min(want, input.count)
            header += input.prefix(take)
            input = UnsafeRawBufferPointer(rebasing: input[take...])
            guard header.count == min(DeltaFormat.headerSize, messageLength) else { return }
            try parseHeader()
        }
        try pump(&input, piecewise: piecewise, pieces: pieces, emit)
        precondition(input.isEmpty || failure != nil, "decoder left \(input.count) fed bytes unread")
    }

    /// Checks the 28-byte header (exactly as `DeltaDecoder` does) and sets up the body.
    private func parseHeader() throws {
        started = true
        guard messageLength <= maxBytes else {
            throw DeltaDecodeError("message is \(messageLength) bytes, over the budget of \(maxBytes)")
        }
        try header.withUnsafeBytes { b in
            var r = ByteReader(b, reportedOrigin: 0, inBody: false)
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
            tensorCount = Int(try r.u32("tensor count"))
            guard tensorCount <= expectedShapes.count else {
                throw r.error("declares \(tensorCount) tensors, the model expects at most \(expectedShapes.count)", at: 8)
            }
            let declaredBody = try r.u64("body size")
            guard declaredBody <= UInt64(maxBytes) else {
                throw r.error("declared body size \(declaredBody) is over the budget of \(maxBytes) bytes", at: 12)
            }
            bodySize = Int(declaredBody)
            let stored = try r.u64("stored body size")
            let left = messageLength - DeltaFormat.headerSize
            guard stored <= UInt64(left) else { throw r.error("truncated: stored body needs \(stored) bytes, only \(left) left") }
            guard stored == UInt64(left) else {
                throw r.error("trailing garbage: \(UInt64(left) - stored) bytes after the body", at: r.offset + Int(stored))
            }
            if flags & DeltaFormat.flagZlib == 0 {
                guard bodySize == left else {
                    throw r.error("uncompressed body: stored size \(left) differs from the declared body size \(bodySize)", at: 20)
                }
            } else {
                do { inflater = try StreamInflater(.zlib) } catch { throw r.error("zlib body: \(error)") }
                storedLeft = left
            }
        }
    }

    /// Where body offsets count from in errors: the message (plain body) or the inflated body.
    var bodyOrigin: Int { inflater == nil ? DeltaFormat.headerSize : 0 }

    private func zlibError(_ problem: String) -> DeltaDecodeError {
        DeltaDecodeError("zlib body: \(problem)", offset: DeltaFormat.headerSize)
    }

    /// Moves up to `count` body bytes from `input` (read, or inflated) to `destination`;
    /// returns how many.
    func pull(_ input: inout UnsafeRawBufferPointer, into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        guard count > 0 else { return 0 }
        if let inflater {
            let (used, made): (Int, Int)
            do { (used, made) = try inflater.inflate(input, into: UnsafeMutableRawBufferPointer(start: destination, count: count)) } catch {
                throw zlibError("\(error)")
            }
            input = UnsafeRawBufferPointer(rebasing: input[used...])
            storedLeft -= used
            bodyDone += made
            if made < count && inflater.ended {
                throw zlibError("inflated to \(inflater.produced) bytes, expected \(bodySize)")
            }
            return made
        }
        let n = min(count, input.count)
        if n > 0 { destination.copyMemory(from: input.baseAddress!, byteCount: n) }
        input = UnsafeRawBufferPointer(rebasing: input[n...])
        bodyDone += n
        return n
    }

    private func pump(_ input: inout UnsafeRawBufferPointer, piecewise: Bool, pieces: (DeltaRecordPiece) throws -> Void,
                      _ emit: (DeltaRecord) throws -> Void) throws {
        while recordsDone < tensorCount {
            if piecing != nil {
                if try piecesInPlace(&input, pieces) { continue }
                guard try pumpPieces({ try pull(&input, into: $0, count: $1) }, pieces) else { return }
                continue
            }
            if let p = pending, piecewise && inPieces(p.header) {
                // Switch to pieces: hand out what was gathered, then go on from the input.
                pending = nil
                gatherScan = nil
                startPieces(p.header)
                var gathered = UnsafeRawBufferPointer(start: p.base + p.header.headerBytes, count: p.filled - p.header.headerBytes)
                _ = try pumpPieces({ destination, count in
                    let n = min(count, gathered.count)
                    destination.copyMemory(from: gathered.baseAddress!, byteCount: n)
                    gathered = UnsafeRawBufferPointer(rebasing: gathered[n...])
                    return n
                }, pieces)
                continue
            }
            if pending == nil {
                if inflater == nil && prefix.isEmpty, let record = try recordInPlace(&input) {
                    try finishRecord(record, emit)
                    continue
                }
                guard let header = try readHeader(&input) else { return }
                if piecewise && inPieces(header) {
                    startPieces(header)
                    continue
                }
                let pad = (64 - header.headerBytes % 64) % 64
                let storage = RecordStorage(byteCount: pad + header.headerBytes + header.payloadBytes)
                let base = storage.base + pad
                prefix.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: header.headerBytes) }
                pending = (header, storage, base, header.headerBytes)
                gatherScan = inflater == nil && header.layout == .dense && header.encoding == .float32 ? (Float32Scan(), 0) : nil
            }
            guard var p = pending else { return }
            let total = p.header.headerBytes + p.header.payloadBytes
            if gatherScan != nil {
                p.filled += gatherScanning(&input, record: p, count: total - p.filled)
            } else {
                p.filled += try pull(&input, into: p.base + p.filled, count: total - p.filled)
            }
            pending = p
            guard p.filled == total else { return }
            pending = nil
            let scan = gatherScan?.scan
            gatherScan = nil
            try finishRecord(DeltaRecord(header: p.header, storage: p.storage, base: UnsafeRawPointer(p.base)), prescanned: scan, emit)
        }
        try checkBodyEnd(&input)
    }

    /// A plain body's float32 or float16 record being handed out in pieces, with no bytes of a
    /// cut value waiting in the scratch buffer: the whole values in `input` are checked and
    /// handed out where they lie, at most `pieceBytes` per piece (the same pieces' contract as
    /// through the scratch buffer, one copy fewer); `input` moves past them. Returns whether
    /// the record is complete.
    private func piecesInPlace(_ input: inout UnsafeRawBufferPointer, _ pieces: (DeltaRecordPiece) throws -> Void) throws -> Bool {
        guard inflater == nil, var state = piecing, state.scales == nil, state.carry == 0, let base = input.baseAddress else { return false }
        let h = state.header, width = h.encoding.width, n = h.elements
        let perPiece = max(1, pieceBytes / width)
        var at = 0
        var complete = false
        defer { if !complete { piecing = state } }
        while state.done < n {
            let k = min(perPiece, n - state.done, (input.count - at) / width)
            guard k > 0 else { break }
            try handOut(UnsafeMutableRawPointer(mutating: base + at), elements: state.done..<(state.done + k), of: state, limit: n,
                        valuesAt: h.headerBytes, pieces)
            state.done += k
            at += k * width
        }
        input = UnsafeRawBufferPointer(rebasing: input[at...])
        bodyDone += at
        guard state.done == n else { return false }
        recordDone(h.name)
        piecing = nil
        complete = true
        return true
    }

    /// The next record of a plain body when it lies whole in `input` (checked in place, not
    /// copied); nil otherwise, leaving `input` as it was.
    private func recordInPlace(_ input: inout UnsafeRawBufferPointer) throws -> DeltaRecord? {
        recordStart = bodyDone
        let visible = UnsafeRawBufferPointer(rebasing: input.prefix(bodySize - recordStart))
        guard visible.count >= DeltaRecordHeader.bytesNeeded(visible) else { return nil }
        var r = ByteReader(visible, reportedOrigin: bodyOrigin + recordStart, inBody: false)
        let header = try DeltaRecordHeader.parse(&r, expectedShapes: expectedShapes, isDuplicate: seen.contains)
        let total = header.headerBytes + header.payloadBytes
        guard total <= visible.count else { return nil }
        let record = DeltaRecord(header: header, storage: nil, base: visible.baseAddress!)
        input = UnsafeRawBufferPointer(rebasing: input[total...])
        bodyDone += total
        return record
    }

    /// Gathers and checks the next record's header; nil while more input is needed.
    private func readHeader(_ input: inout UnsafeRawBufferPointer) throws -> DeltaRecordHeader? {
        if prefix.isEmpty { recordStart = bodyDone }
        let available = bodySize - recordStart   // body bytes from the record's start
        while true {
            let need = min(prefix.withUnsafeBytes { DeltaRecordHeader.bytesNeeded($0) }, available)
            guard prefix.count < need else { break }
            let want = need - prefix.count
            var scratch = [UInt8](repeating: 0, count: want)
            let got = try scratch.withUnsafeMutableBytes { b in try pull(&input, into: b.baseAddress!, count: want) }
            prefix += scratch.prefix(got)
            if got < want { return nil }
        }
        return try prefix.withUnsafeBytes { b in
            var r = ByteReader(b, reportedOrigin: bodyOrigin + recordStart, inBody: inflater != nil)
            let header = try DeltaRecordHeader.parse(&r, expectedShapes: expectedShapes, isDuplicate: seen.contains)
            try header.requirePayload(available: available - header.headerBytes, reader: r)
            return header
        }
    }

    private func finishRecord(_ record: DeltaRecord, prescanned: Float32Scan? = nil, _ emit: (DeltaRecord) throws -> Void) throws {
        var r = reader(record.base, count: record.byteCount, tensor: record.name)
        let sumOfSquares = try DeltaRecord.validate(record.header, &r, prescanned: prescanned)
        recordDone(record.name)
        try emit(DeltaRecord(header: record.header, storage: record.storage, base: record.base, sumOfSquares: sumOfSquares))
    }

    /// Moves up to `count` bytes of a plain body from `input` into the dense float32 record
    /// being gathered, scanning its values (finiteness, sum of squares) in the same pass as
    /// the copy; returns how many bytes. A value cut by the end of the input is scanned once
    /// its last byte is in.
    private func gatherScanning(_ input: inout UnsafeRawBufferPointer,
                                record p: (header: DeltaRecordHeader, storage: RecordStorage, base: UnsafeMutableRawPointer, filled: Int),
                                count: Int) -> Int {
        let n = min(count, input.count)
        guard n > 0, var state = gatherScan, let source = input.baseAddress else { return 0 }
        let valuesAt = p.header.headerBytes, end = p.filled + n
        // Values wholly inside the new bytes: firstWhole..<complete; earlier ones were cut.
        let firstWhole = max(0, (p.filled - valuesAt + 3) / 4)
        let complete = max(0, (end - valuesAt) / 4)
        func copy(_ from: Int, _ to: Int) {   // record offsets
            if to > from { (p.base + from).copyMemory(from: source + (from - p.filled), byteCount: to - from) }
        }
        let middle = firstWhole < complete ? valuesAt + 4 * firstWhole : end
        copy(p.filled, min(middle, end))
        if state.values < min(firstWhole, complete) {   // a value completed by this input's first bytes
            let k = min(firstWhole, complete) - state.values
            state.scan.append(Float32ScanKernels.scan(p.base + valuesAt + 4 * state.values, count: k), after: state.values)
            state.values += k
        }
        if firstWhole < complete {
            let k = complete - firstWhole
            let scan = Float32ScanKernels.copyAndScan(from: source + (middle - p.filled), to: p.base + middle, count: k)
            state.scan.append(scan, after: state.values)
            state.values += k
            copy(middle + 4 * k, end)
        }
        gatherScan = state
        input = UnsafeRawBufferPointer(rebasing: input[n...])
        bodyDone += n
        return n
    }

    /// Marks the current record (checked whole, or handed out in pieces) done.
    func recordDone(_ name: String) {
        seen.insert(name)
        recordsDone += 1
        prefix = []
    }

    /// A reader of `count` bytes at `base`, the current record's start, reporting offsets and
    /// `tensor` as the message's errors do.
    func reader(_ base: UnsafeRawPointer?, count: Int, tensor: String) -> ByteReader {
        var r = ByteReader(UnsafeRawBufferPointer(start: base, count: count), reportedOrigin: bodyOrigin + recordStart, inBody: inflater != nil)
        r.tensor = tensor
        return r
    }

    /// After the last record: nothing may be left in the body, and a zlib stream must end here.
    private func checkBodyEnd(_ input: inout UnsafeRawBufferPointer) throws {
        guard bodyDone == bodySize else {
            var r = ByteReader(UnsafeRawBufferPointer(start: nil, count: 0), reportedOrigin: bodyOrigin + bodyDone, inBody: inflater != nil)
            r.tensor = nil
            throw r.error("trailing garbage: \(bodySize - bodyDone) bytes after the last of \(tensorCount) tensors")
        }
        guard let inflater else { return }
        if !inflater.ended {
            var probe: UInt8 = 0
            let made = try withUnsafeMutableBytes(of: &probe) { b -> Int in
                do {
                    let (used, made) = try inflater.inflate(input, into: b)
                    input = UnsafeRawBufferPointer(rebasing: input[used...])
                    storedLeft -= used
                    return made
                } catch { throw zlibError("\(error)") }
            }
            if made > 0 { throw zlibError("stream inflates to more than the expected \(bodySize) bytes") }
        }
        if inflater.ended && !input.isEmpty {
            throw zlibError("\(storedLeft) bytes after the end of the zlib stream")
        }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { b in let s = String(b, radix: 16, uppercase: true); return s.count == 1 ? "0" + s : s }.joined(separator: " ")
    }
}
