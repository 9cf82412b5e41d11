import CohortCheckpoint
import CohortTransport
import Foundation

extension Coordinator {
    /// Largest single frame after authentication. Models and updates are streamed in chunks
    /// (`StreamedMessage`), so this only bounds the small messages.
    public static let maxFrameBytes = 64 << 20

    /// The default of `Config.updateBufferBytes`: four chunks (`cohort bench aggregate --memory`:
    /// a coordinator with 8 holds 0.1× a 40 MB model more at its peak and rounds no faster).
    public static let defaultUpdateBufferBytes = 4 * StreamedMessage.defaultChunkSize

    /// Receives `session`'s UPDATE for this round as it streams in: the header is checked first
    /// (round, model version, sample count), then every tensor record is checked by the delta
    /// decoder against the model's shapes within `budget` bytes and offered to `fold` as soon
    /// as it is complete, or, once the node commits (`fold.foldsPieces`), a large dense record
    /// piece by piece as its bytes arrive, each piece checked before it is folded. Before each
    /// chunk the reader may wait for room to buffer (`fold`'s budget) until `deadline`. Returns
    /// the header and the message's length. `fold` is the fold of the plain round `token`; it is
    /// only touched through `withPlainRound`, under the state's lock.
    func receiveUpdate(from session: Session, round: Int, modelVersion: Int, shapes: [String: [Int]], budget: Int,
                       token: Int, fold: OrderedFold, deadline: Date) throws -> (header: RoundMessages.UpdateHeader, bytes: Int) {
        let conn = session.conn, name = session.name
        let start = try Handshake.expect(conn, .update, timeout: config.roundTimeout)
        let began = Date()
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
            reserved = try waitForRoom(name, bytes: min(remaining, chunk), token: token, fold: fold, deadline: deadline) {
                // The node starts committing: a record its decoder has partly gathered goes out
                // in pieces now, under the lock, before another node can take the room it held.
                try reader.feed(UnsafeRawBufferPointer(start: nil, count: 0), piecewise: true, pieces: { try fold.offer(name, piece: $0) }) {
                    try fold.offer(name, record: $0)
                }
            }
        }, consume: { data in
            let piecewise = (try? withPlainRound(token) { $0.fold.foldsPieces(name) || $0.fold.hasFailed(name) }) ?? false
            try reader.feed(data, piecewise: piecewise, pieces: { piece in try withPlainRound(token) { try $0.fold.offer(name, piece: piece) } }) { record in
                try withPlainRound(token) { try $0.fold.offer(name, record: record) }
            }
            try? withPlainRound(token) { $0.fold.read(name, reserved: reserved, received: data.count) }
        })
        let header = try reader.finish()
        try withPlainRound(token) { try $0.fold.complete(name) }
        let seconds = Date().timeIntervalSince(began)
        if length >= 64 << 20 {   // large updates: where the uplink's time goes (issue 19)
            log(String(format: "coordinator: round %d: UPDATE of '%@' (%ld bytes) received, checked and folded in %.2f s (%.2f GB/s from its first byte)",
                       round, name, length, seconds, Double(length) / max(seconds, 1e-9) / 1e9))
        }
        return (header, length)
    }

    /// Waits until `fold` lets `name` read `bytes` more; returns the bytes reserved. When that
    /// makes the node start committing, `startsCommitting` runs under the same hold of the lock.
    private func waitForRoom(_ name: String, bytes: Int, token: Int, fold: OrderedFold, deadline: Date,
                             startsCommitting: () throws -> Void) throws -> Int {
        while true {
            let reserved = try withPlainRound(token) { round throws -> Int? in
                let before = round.fold.foldsPieces(name)
                let reserved = round.fold.reserve(name, bytes: bytes)
                if !before && round.fold.foldsPieces(name) { try startsCommitting() }
                return reserved
            }
            if let reserved { return reserved }
            guard Date() < deadline else {
                throw AggregationError("no room to buffer the update before the round's deadline (\(fold.bufferBudget) bytes held for earlier-named nodes)")
            }
            fold.changed.lock()
            _ = fold.changed.wait(until: Date().addingTimeInterval(0.05))
            fold.changed.unlock()
        }
    }

    /// Runs `body` on the plain round `token` under the state's lock; throws `RoundClosed` when
    /// that round is no longer the open one (a thread that outlived it).
    func withPlainRound<R: Sendable>(_ token: Int, _ body: (inout PlainRoundProgress) throws -> R) throws -> R {
        try state.withLock { s throws -> R in
            guard s.plain?.token == token else { throw RoundClosed() }
            return try body(&s.plain!)
        }
    }
}
