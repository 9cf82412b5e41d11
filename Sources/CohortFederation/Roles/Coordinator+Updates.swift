import CohortCheckpoint
import CohortTransport
import Foundation

extension Coordinator {
    /// Largest single frame after authentication. Models and updates are streamed in chunks
    /// (`StreamedMessage`), so this only bounds the small messages.
    public static let maxFrameBytes = 64 << 20

    /// The default of `Config.updateBufferBytes`: eight chunks.
    public static let defaultUpdateBufferBytes = 8 * StreamedMessage.defaultChunkSize

    /// Receives `session`'s UPDATE for this round as it streams in: the header is checked first
    /// (round, model version, sample count), then every tensor record is checked by the delta
    /// decoder against the model's shapes within `budget` bytes and offered to `fold` as soon
    /// as it is complete. Before each chunk the reader may wait for room to buffer (`fold`'s
    /// budget) until `deadline`. Returns the header and the message's length.
    func receiveUpdate(from session: Session, round: Int, modelVersion: Int, shapes: [String: [Int]], budget: Int,
                       fold: OrderedFold, deadline: Date) throws -> (header: RoundMessages.UpdateHeader, bytes: Int) {
        let conn = session.conn, name = session.name
        let start = try Handshake.expect(conn, .update, timeout: config.roundTimeout)
        let announced = try StreamedMessage.announcedLength(start)
        guard announced <= UInt64(budget) else { throw StreamedMessageError.overBudget(type: start.type, length: announced, budget: budget) }
        let reader = RoundMessageReader<RoundMessages.UpdateHeader>(length: Int(announced)) { h, bodyLength in
            guard h.round == round, h.modelVersion == modelVersion else {
                throw AggregationError("update for round \(h.round) / model \(h.modelVersion), expected round \(round) / model \(modelVersion)")
            }
            guard h.samples == session.samples else {
                throw AggregationError("update claims \(h.samples) samples; the node announced \(session.samples) when it joined")
            }
            return DeltaStreamDecoder(expectedShapes: shapes, maxBytes: budget, requireAllTensors: false, messageLength: bodyLength)
        }
        var reserved = 0
        let chunk = StreamedMessage.defaultChunkSize
        let length = try conn.receiveStreamed(start, budget: budget, maxChunk: chunk, timeout: config.roundTimeout, beforeChunk: { remaining in
            reserved = try waitForRoom(name, bytes: min(remaining, chunk), fold: fold, deadline: deadline)
        }, consume: { data in
            try reader.feed(data) { record in try lock.withLock { try fold.offer(name, record: record) } }
            lock.withLock { fold.read(name, reserved: reserved, received: data.count) }
        })
        let header = try reader.finish()
        try lock.withLock { try fold.complete(name) }
        return (header, length)
    }

    /// Waits until `fold` lets `name` read `bytes` more; returns the bytes reserved.
    private func waitForRoom(_ name: String, bytes: Int, fold: OrderedFold, deadline: Date) throws -> Int {
        while true {
            if let reserved = lock.withLock({ fold.reserve(name, bytes: bytes) }) { return reserved }
            guard Date() < deadline else {
                throw AggregationError("no room to buffer the update before the round's deadline (\(fold.bufferBudget) bytes held for earlier-named nodes)")
            }
            fold.changed.lock()
            _ = fold.changed.wait(until: Date().addingTimeInterval(0.05))
            fold.changed.unlock()
        }
    }
}
