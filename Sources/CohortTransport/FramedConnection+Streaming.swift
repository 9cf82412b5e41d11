import Foundation

extension FramedConnection {
    /// Sends a streamed message: the start frame, then its CHUNK frames. Each frame is written
    /// whole under the write lock, so another thread's frame (a heartbeat) can only land
    /// between two frames, where receivers skip it. Large slices of the message's segments go
    /// to the stream as they are; small ones are gathered first so a chunk costs few writes.
    public func send(_ message: StreamedMessage, version: UInt16) throws {
        var start: [UInt8] = []
        withUnsafeBytes(of: UInt64(message.length).littleEndian) { start += $0 }
        try send(Frame(version: version, type: message.type, payload: start))
        var staged: [UInt8] = []
        staged.reserveCapacity(64 << 10)
        for index in 0..<message.chunkCount {
            var dataBytes = 0
            message.forEachSlice(ofChunk: index) { dataBytes += $0.count }
            let header = Frame.header(version: version, type: MessageType.chunk.rawValue, length: 4 + dataBytes,
                                      crc: message.crc(ofChunk: index))
            try sendFrame(header: header) { write in
                staged.removeAll(keepingCapacity: true)
                withUnsafeBytes(of: UInt32(index).littleEndian) { staged += $0 }
                try message.forEachSlice(ofChunk: index) { slice in
                    if slice.count < 16 << 10 {
                        staged += slice
                    } else {
                        try staged.withUnsafeBytes { try write($0) }
                        staged.removeAll(keepingCapacity: true)
                        try write(slice)
                    }
                }
                try staged.withUnsafeBytes { try write($0) }
            }
        }
    }

    /// Receives the rest of a streamed message whose start frame (`start`, of the message's
    /// type) the caller has read, passing each chunk's data to `consume` as it arrives.
    ///
    /// The announced length is checked against `budget` before anything else is read, so a
    /// peer announcing more is refused at once and costs nothing. Chunks must come in order
    /// (0, 1, 2, …), hold 1…`maxChunk` bytes and add up to exactly the announced length;
    /// HEARTBEAT frames in between are skipped, an ERROR frame ends the message with its
    /// reason. `beforeChunk(remaining)` runs before each chunk is read, with the bytes still
    /// to come (a receiver may wait there, e.g. for memory, which holds the sender back through
    /// TCP flow control); each chunk then has `timeout` (else the read timeout) to arrive.
    /// Returns the length.
    @discardableResult
    public func receiveStreamed(_ start: Frame, budget: Int, maxChunk: Int = StreamedMessage.defaultMaxChunk, timeout: Double? = nil,
                                beforeChunk: (_ remaining: Int) throws -> Void = { _ in },
                                consume: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let announced = try StreamedMessage.announcedLength(start)
        guard announced <= UInt64(max(budget, 0)) else { throw StreamedMessageError.overBudget(type: start.type, length: announced, budget: budget) }
        let length = Int(announced)
        var received = 0
        var next: UInt32 = 0
        while received < length {
            try beforeChunk(length - received)
            let frame = try receive(timeout: timeout, maxPayload: maxChunk + 4)
            switch MessageType(rawValue: frame.type) {
            case .heartbeat:
                continue
            case .chunk:
                guard frame.payload.count >= 4 else {
                    throw StreamedMessageError.badChunkSize(type: start.type, index: next, bytes: 0, remaining: length - received)
                }
                let index = frame.payload.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
                guard index == next else { throw StreamedMessageError.outOfOrder(type: start.type, got: index, expected: next) }
                let count = frame.payload.count - 4
                guard count >= 1 && count <= length - received else {
                    throw StreamedMessageError.badChunkSize(type: start.type, index: index, bytes: count, remaining: length - received)
                }
                try frame.payload.withUnsafeBytes { try consume(UnsafeRawBufferPointer(rebasing: $0[4...])) }
                received += count
                next &+= 1
            case .error:
                let message = (try? JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(frame.payload)))?.message ?? "unreadable ERROR frame"
                throw TransportError("refused by \(stream.peer): \(message)")
            default:
                throw StreamedMessageError.interrupted(type: start.type, received: received, length: length, byFrameType: frame.type)
            }
        }
        return length
    }

    /// Receives a streamed message whole (see `receiveStreamed(_:budget:maxChunk:timeout:beforeChunk:consume:)`):
    /// memory grows with the bytes that arrive, not with the announced length.
    public func receiveStreamedBytes(_ start: Frame, budget: Int, timeout: Double? = nil) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try receiveStreamed(start, budget: budget, timeout: timeout) { bytes += $0 }
        return bytes
    }
}
