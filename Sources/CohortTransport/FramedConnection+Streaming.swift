import Foundation

extension FramedConnection {
    /// Sends a streamed message: the start frame, then its CHUNK frames. Each frame is written
    /// whole under the write lock, so another thread's frame (a heartbeat) can only land
    /// between two frames, where receivers skip it. Large slices of the message's segments go
    /// to the stream where they lie, each in one gathered write with the small bytes before it
    /// (the frame header, the chunk index, small slices, copied into one staging buffer): a
    /// chunk of a large tensor is one `sendmsg` of its 20 header bytes and its 1 MiB of floats.
    public func send(_ message: StreamedMessage, version: UInt16) throws {
        var start: [UInt8] = []
        withUnsafeBytes(of: UInt64(message.length).littleEndian) { start += $0 }
        try send(Frame(version: version, type: message.type, payload: start))
        if message.checksumsWhenSent { return try sendChecksummingEachChunk(message, version: version) }
        var staged: [UInt8] = []
        staged.reserveCapacity(64 << 10)
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        for index in 0..<message.chunkCount {
            let dataBytes = message.chunkBytes(index)
            try sendFrame { write in
                staged.removeAll(keepingCapacity: true)
                staged += Frame.header(version: version, type: MessageType.chunk.rawValue, length: 4 + dataBytes,
                                       crc: message.crc(ofChunk: index))
                withUnsafeBytes(of: UInt32(index).littleEndian) { staged += $0 }
                try message.forEachSlice(ofChunk: index) { slice in
                    if slice.count < 16 << 10 {
                        staged += slice
                    } else {
                        try staged.withUnsafeBytes { try write($0, slice) }
                        staged.removeAll(keepingCapacity: true)
                    }
                }
                if !staged.isEmpty { try staged.withUnsafeBytes { try write($0, none) } }
            }
        }
    }

    /// The CHUNK frames of a message that `checksumsWhenSent`: each chunk's bytes are made
    /// into one staging buffer (where a generated segment's error stops the send before that
    /// chunk's frame begins), checksummed there and written with their header.
    private func sendChecksummingEachChunk(_ message: StreamedMessage, version: UInt16) throws {
        let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 + min(message.chunkSize, message.length), alignment: 64)
        defer { staging.deallocate() }
        for index in 0..<message.chunkCount {
            staging.storeBytes(of: UInt32(index).littleEndian, as: UInt32.self)
            var filled = 4
            try message.forEachSlice(ofChunk: index) { slice in
                guard let base = slice.baseAddress, !slice.isEmpty else { return }
                guard slice.count <= staging.count - filled else {
                    throw TransportError("chunk \(index) of a streamed message: its segments gave more than the chunk's \(message.chunkBytes(index)) bytes")
                }
                (staging.baseAddress! + filled).copyMemory(from: base, byteCount: slice.count)
                filled += slice.count
            }
            let payload = UnsafeRawBufferPointer(rebasing: staging[..<filled])
            let header = Frame.header(version: version, type: MessageType.chunk.rawValue, length: filled,
                                      crc: Frame.crc32(payload, continuing: 0))
            try sendFrame { write in try header.withUnsafeBytes { try write($0, payload) } }
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
        // One buffer for every chunk of the message (at most maxChunk + 4 bytes, once a header
        // announcing that much has been checked), freed when the message ends.
        let buffer = FrameBuffer()
        while received < length {
            try beforeChunk(length - received)
            let (header, payload) = try receive(into: buffer, timeout: timeout, maxPayload: maxChunk + 4)
            switch MessageType(rawValue: header.type) {
            case .heartbeat:
                continue
            case .chunk:
                guard payload.count >= 4 else {
                    throw StreamedMessageError.badChunkSize(type: start.type, index: next, bytes: 0, remaining: length - received)
                }
                let index = UInt32(littleEndian: payload.loadUnaligned(as: UInt32.self))
                guard index == next else { throw StreamedMessageError.outOfOrder(type: start.type, got: index, expected: next) }
                let count = payload.count - 4
                guard count >= 1 && count <= length - received else {
                    throw StreamedMessageError.badChunkSize(type: start.type, index: index, bytes: count, remaining: length - received)
                }
                try consume(UnsafeRawBufferPointer(rebasing: payload[4...]))
                received += count
                next &+= 1
            case .error:
                let message = (try? JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(payload)))?.message ?? "unreadable ERROR frame"
                throw TransportError("refused by \(stream.peer): \(message)")
            default:
                throw StreamedMessageError.interrupted(type: start.type, received: received, length: length, byFrameType: header.type)
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
