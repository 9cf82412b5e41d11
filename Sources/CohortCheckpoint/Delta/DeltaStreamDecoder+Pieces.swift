/// Handing a dense record out in pieces as its bytes arrive (`feed(_:piecewise:pieces:_:)`).
///
/// In a plain (not zlib) body, float32 and float16 values lying whole in the bytes fed are
/// checked and handed out where they lie, `pieceBytes` at a time, with no copy
/// (`DeltaStreamDecoder.piecesInPlace`). Otherwise the values go through a scratch buffer of `pieceBytes`: each time it fills (or the bytes at
/// hand run out) the whole values in it are checked and handed out as one piece, and the bytes
/// of a value cut by the end of the input wait at its start for the rest. An int8 record's block
/// scales come before its values: they are gathered first (4 bytes per block) and checked, and
/// values are handed out only below the first bad scale, which is reported when the values
/// reach its block, as the whole-record check orders its errors.
extension DeltaStreamDecoder {
    /// A dense record being handed out in pieces.
    struct PieceState {
        let header: DeltaRecordHeader
        /// int8: the block scales, gathered before any value, and how many bytes of them are in.
        var scales: RecordStorage?
        var scalesFilled = 0
        /// int8, once the scales are in: the first bad scale's block and problem.
        var badScale: (block: Int, problem: String)?
        /// Values handed out so far.
        var done = 0
        /// Bytes of a value cut short by the input, waiting at the start of the scratch buffer.
        var carry = 0
    }

    /// Whether a record with this header is handed out in pieces when the receiver asks for it.
    func inPieces(_ header: DeltaRecordHeader) -> Bool {
        header.layout == .dense && header.payloadBytes > pieceBytes
    }

    func startPieces(_ header: DeltaRecordHeader) {
        var state = PieceState(header: header)
        if header.encoding == .int8 { state.scales = RecordStorage(byteCount: 4 * ValueCoding.blockCount(header.valueCount, header.blockSize)) }
        piecing = state
        if scratch == nil { scratch = RecordStorage(byteCount: pieceBytes) }
    }

    /// Moves the record being handed out in pieces on with bytes from `source` (which moves up
    /// to `count` payload bytes to the pointer it is given and returns how many); returns whether
    /// the record is complete.
    func pumpPieces(_ source: (UnsafeMutableRawPointer, Int) throws -> Int, _ pieces: (DeltaRecordPiece) throws -> Void) throws -> Bool {
        guard var state = piecing, let buffer = scratch?.base else { preconditionFailure("no record is being handed out in pieces") }
        var complete = false
        defer { piecing = complete ? nil : state }   // (after an error the decoder takes no more input)
        let h = state.header, n = h.elements, width = h.encoding.width
        var valuesAt = h.headerBytes   // where the values start, from the record's start
        if let scales = state.scales {
            let blocks = ValueCoding.blockCount(n, h.blockSize)
            valuesAt += 4 * blocks
            if state.scalesFilled < 4 * blocks {
                state.scalesFilled += try source(scales.base + state.scalesFilled, 4 * blocks - state.scalesFilled)
                guard state.scalesFilled == 4 * blocks else { return false }
                state.badScale = ValueCoding.firstBadScale(scales.base, blocks: blocks)
            }
        }
        // Values up to the first bad scale's block may be handed out.
        let limit = state.badScale.map { $0.block * h.blockSize } ?? n
        while state.done < n {
            let want = min(pieceBytes - state.carry, (n - state.done) * width - state.carry)
            let got = try source(buffer + state.carry, want)
            let held = state.carry + got
            let whole = held / width
            if whole > 0 {
                try handOut(buffer, elements: state.done..<(state.done + whole), of: state, limit: limit, valuesAt: valuesAt, pieces)
                state.done += whole
                state.carry = held - whole * width
                if state.carry > 0 { buffer.copyMemory(from: buffer + whole * width, byteCount: state.carry) }
            } else {
                state.carry = held
            }
            if got < want { return false }
        }
        recordDone(h.name)
        complete = true
        return true
    }

    /// Checks the values of `elements` at `values` and hands them out as a piece; on a bad
    /// value (or reaching `limit`, the first bad int8 scale's block), hands out those before it
    /// and throws the error the whole-record check gives.
    func handOut(_ values: UnsafeMutableRawPointer, elements: Range<Int>, of state: PieceState, limit: Int, valuesAt: Int,
                         _ pieces: (DeltaRecordPiece) throws -> Void) throws {
        let h = state.header, n = h.elements, width = h.encoding.width
        let checked = min(elements.upperBound, limit) - elements.lowerBound
        let bad = h.encoding == .int8
            ? ValueCoding.firstBadInt8(values, count: max(checked, 0), first: elements.lowerBound, of: n)
            : ValueCoding.firstBadFloat(values, count: checked, first: elements.lowerBound, of: n, encoding: h.encoding)
        let good = bad?.index ?? max(checked, 0)
        if good > 0 {
            try pieces(DeltaRecordPiece(header: h, elements: elements.lowerBound..<(elements.lowerBound + good), values: values,
                                        scales: state.scales.map { UnsafeRawPointer($0.base) }))
        }
        let r = reader(nil, count: 0, tensor: h.name)
        if let bad { throw r.error(bad.problem, at: valuesAt + width * (elements.lowerBound + bad.index)) }
        if elements.upperBound > limit, let scale = state.badScale {
            throw r.error(scale.problem, at: h.headerBytes + 4 * scale.block)
        }
    }
}
