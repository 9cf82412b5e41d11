import Foundation

/// A message of any length sent as a start frame and CHUNK frames (spec: protocols/wire.md,
/// "Streamed messages"), so no frame has to hold a whole model and the receiver needs memory
/// for one chunk at a time.
///
/// ```
/// frame type T      payload: u64 length L of the message
/// frame type CHUNK  payload: u32 chunk index 0, then 1…chunkSize bytes of the message
/// frame type CHUNK  payload: u32 chunk index 1, then …          (until L bytes were sent)
/// ```
///
/// The message's bytes are the concatenation of `segments` (e.g. a small header array and the
/// float arrays of a model's tensors), sent without being copied into one buffer. The
/// per-chunk CRCs are computed once, when the message is made, so sending the same message to
/// many peers costs only the writes; or, with `checksumsWhenSent`, as each chunk is sent (a
/// message sent once whose bytes are generated: one pass over them instead of two).
public final class StreamedMessage: @unchecked Sendable {
    /// The default chunk size: 1 MiB of message per CHUNK frame.
    public static let defaultChunkSize = 1 << 20
    /// The largest chunk a receiver accepts by default (a sender may choose smaller ones).
    public static let defaultMaxChunk = 4 << 20

    /// The message type (MODEL, UPDATE, EVALUATE, …) announced by the start frame.
    public let type: UInt16
    /// Total bytes of the message.
    public let length: Int
    /// Message bytes per CHUNK frame (the last may be shorter).
    public let chunkSize: Int
    private let segments: [MessageSegment]
    private let counts: [Int]
    private var crcs: [UInt32] = []
    /// Whether each chunk's CRC is computed as it is sent (from the chunk's bytes, staged once)
    /// rather than when the message was made. A generated segment may then throw, which stops
    /// the send before that chunk's frame.
    public let checksumsWhenSent: Bool

    /// A message made of `segments`, in order; they must not change while it is alive.
    /// `checksumsWhenSent`: see the property.
    public init(type: UInt16, segments: [MessageSegment], chunkSize: Int = StreamedMessage.defaultChunkSize, checksumsWhenSent: Bool = false) {
        precondition(chunkSize >= 1 && chunkSize < 1 << 31, "chunk size must be in 1..<2^31, got \(chunkSize)")
        self.type = type
        self.segments = segments
        self.chunkSize = chunkSize
        self.checksumsWhenSent = checksumsWhenSent
        counts = segments.map(\.count)
        length = counts.reduce(0, +)
        guard !checksumsWhenSent else { return }
        crcs.reserveCapacity(chunkCount)
        for i in 0..<chunkCount {
            var crc = withUnsafeBytes(of: UInt32(i).littleEndian) { Frame.crc32($0, continuing: 0) }
            forEachSlice(ofChunk: i) { crc = Frame.crc32($0, continuing: crc) }
            crcs.append(crc)
        }
    }

    /// A message holding `bytes`.
    public convenience init(type: UInt16, bytes: [UInt8], chunkSize: Int = StreamedMessage.defaultChunkSize) {
        self.init(type: type, segments: [.bytes(bytes)], chunkSize: chunkSize)
    }

    /// The length a streamed message's start frame announces.
    public static func announcedLength(_ start: Frame) throws(StreamedMessageError) -> UInt64 {
        guard start.payload.count == 8 else { throw .malformedStart(type: start.type, payloadBytes: start.payload.count) }
        return start.payload.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    }

    /// Number of CHUNK frames.
    public var chunkCount: Int { (length + chunkSize - 1) / chunkSize }

    /// Calls `body` with the pieces of the segments that make up chunk `index`, in order.
    func forEachSlice(ofChunk index: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var start = index * chunkSize
        let end = min(start + chunkSize, length)
        var segmentStart = 0
        for (segment, count) in zip(segments, counts) {
            defer { segmentStart += count }
            guard start < end, segmentStart + count > start else { continue }
            let lo = start - segmentStart, hi = min(count, end - segmentStart)
            try segment.withBytes(lo..<hi) { try body($0) }
            start = segmentStart + hi
        }
    }

    /// The CRC-32 of CHUNK frame `index`'s payload (index and data).
    func crc(ofChunk index: Int) -> UInt32 { crcs[index] }

    /// Bytes of chunk `index` (without reading them: a generated segment is not asked).
    func chunkBytes(_ index: Int) -> Int { max(0, min(chunkSize, length - index * chunkSize)) }
}

/// Bytes a streamed message is made of, used where they are (not copied into one buffer), or
/// made on demand a range at a time (`generated`).
public struct MessageSegment: @unchecked Sendable {
    /// Bytes in the segment.
    public let count: Int
    private let access: (Range<Int>, (UnsafeRawBufferPointer) throws -> Void) throws -> Void

    /// A segment holding `bytes`.
    public static func bytes(_ bytes: [UInt8]) -> MessageSegment {
        MessageSegment(count: bytes.count) { range, body in try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) } }
    }

    /// A segment holding `values` as they lie in memory (little-endian float32 on every
    /// platform Cohort builds for).
    public static func floats(_ values: [Float]) -> MessageSegment {
        MessageSegment(count: 4 * values.count) { range, body in
            try values.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
        }
    }

    /// A segment of `count` bytes that `produce` makes on demand: asked for a range (at most
    /// one chunk of the message), it calls its body with exactly those bytes. It must give
    /// the same bytes every time (the chunk CRCs are computed from a first pass, the sending
    /// from a second, unless the message `checksumsWhenSent`), and is called from one thread at
    /// a time. It may throw only in a message that `checksumsWhenSent`.
    public static func generated(count: Int, _ produce: @escaping (Range<Int>, (UnsafeRawBufferPointer) throws -> Void) throws -> Void)
        -> MessageSegment
    {
        MessageSegment(count: count, access: produce)
    }

    private init(count: Int, access: @escaping (Range<Int>, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) {
        self.count = count
        self.access = access
    }

    /// Calls `body` with the segment's bytes in `range`.
    func withBytes(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try withoutActuallyEscaping(body) { body in try access(range, body) }
    }
}

/// Why a streamed message was refused.
public enum StreamedMessageError: Error, Equatable, CustomStringConvertible {
    /// The start frame's payload is not the 8-byte length.
    case malformedStart(type: UInt16, payloadBytes: Int)
    /// The announced length is over what the receiver allows for this message.
    case overBudget(type: UInt16, length: UInt64, budget: Int)
    /// A chunk arrived out of order, or one is missing.
    case outOfOrder(type: UInt16, got: UInt32, expected: UInt32)
    /// A chunk holds no data, or more than the announced length still allows.
    case badChunkSize(type: UInt16, index: UInt32, bytes: Int, remaining: Int)
    /// A frame other than a CHUNK (or HEARTBEAT) arrived before the message was complete.
    case interrupted(type: UInt16, received: Int, length: Int, byFrameType: UInt16)

    public var description: String {
        switch self {
        case let .malformedStart(type, n):
            return "streamed message of type \(type): start frame has a \(n)-byte payload, expected the 8-byte length"
        case let .overBudget(type, length, budget):
            return "streamed message of type \(type) announces \(length) bytes, over the budget of \(budget) bytes"
        case let .outOfOrder(type, got, expected):
            return "streamed message of type \(type): chunk \(got) arrived where chunk \(expected) was expected"
        case let .badChunkSize(type, index, bytes, remaining):
            return bytes == 0 ? "streamed message of type \(type): chunk \(index) is empty"
                : "streamed message of type \(type): chunk \(index) carries \(bytes) bytes, but only \(remaining) of the announced length remain"
        case let .interrupted(type, received, length, other):
            return "streamed message of type \(type) cut off after \(received) of \(length) bytes by a frame of type \(other)"
        }
    }
}
