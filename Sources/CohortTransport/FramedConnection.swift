import Foundation

/// Frames over a byte stream, with a payload size limit and per-frame deadlines. Sends are
/// serialised, so two threads (a round and a heartbeat) never interleave frames; one thread may
/// receive meanwhile, and any thread may `close()`.
public final class FramedConnection: @unchecked Sendable {
    public let stream: ByteStream
    /// Largest payload accepted; a header announcing more is rejected before reading it.
    public var maxPayload: Int
    /// Seconds allowed to receive one whole frame (header and payload) when `receive` is
    /// called without a timeout.
    public var readTimeout: Double
    public var writeTimeout: Double
    private let writeLock = NSLock()
    /// The protocol version agreed in the handshake: from then on a frame whose header carries
    /// another version is refused (nil before the handshake, when HELLO may carry any).
    public var expectedVersion: UInt16? {
        get { versionLock.withLock { agreed } }
        set { versionLock.withLock { agreed = newValue } }
    }
    private var agreed: UInt16?
    private let versionLock = NSLock()

    /// Frames over `stream`.
    public init(stream: ByteStream, maxPayload: Int = 64 << 20, readTimeout: Double = 30, writeTimeout: Double = 30) {
        self.stream = stream
        self.maxPayload = maxPayload
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
    }

    /// Sends one frame.
    public func send(_ frame: Frame) throws {
        let bytes = frame.encoded()
        try writeLock.withLock { try stream.write(bytes, timeout: writeTimeout) }
    }

    /// Receives one frame, checking magic, size limit and CRC. One deadline, `timeout` (else
    /// `readTimeout`) seconds from now, covers the header and the payload. The payload buffer
    /// grows as bytes arrive (1 MiB steps), so a header announcing a large frame costs nothing
    /// until the bytes come. Transport failures throw `TransportError`; malformed frames throw
    /// `FrameError`.
    public func receive(timeout: Double? = nil) throws -> Frame {
        try receive(timeout: timeout, maxPayload: maxPayload)
    }

    /// Receives one frame whose payload may hold at most `maxPayload` bytes (a header announcing
    /// more is refused before the payload is read); otherwise as `receive(timeout:)`.
    public func receive(timeout: Double?, maxPayload: Int) throws -> Frame {
        let limit = timeout ?? readTimeout
        let deadline = Date().addingTimeInterval(limit)
        let header = try receiveHeader(deadline: deadline, timeout: limit, maxPayload: maxPayload)
        let payload = try stream.read(exactly: header.length, deadline: deadline, timeout: limit)
        let crc = Frame.crc32(payload)
        guard crc == header.crc else { throw FrameError.checksum(expected: header.crc, computed: crc) }
        return Frame(version: header.version, type: header.type, payload: payload)
    }

    /// A frame's header, checked against `maxPayload` and the expected version, before any of
    /// its payload is read.
    private func receiveHeader(deadline: Date, timeout: Double, maxPayload: Int) throws -> FrameHeader {
        let header = try FrameHeader.parse(try stream.read(exactly: Frame.headerSize, deadline: deadline, timeout: timeout),
                                           maxPayload: maxPayload)
        if let expected = expectedVersion, header.version != expected {
            throw FrameError.unexpectedVersion(got: header.version, expected: expected)
        }
        return header
    }

    /// Receives one frame as `receive(timeout:maxPayload:)` does, its payload read into
    /// `buffer` (reused from frame to frame, grown to the announced length once that is checked
    /// against `maxPayload`) rather than a new array: returns the header and the payload, valid
    /// until the buffer's next use.
    func receive(into buffer: FrameBuffer, timeout: Double?, maxPayload: Int) throws -> (header: FrameHeader, payload: UnsafeRawBufferPointer) {
        let limit = timeout ?? readTimeout
        let deadline = Date().addingTimeInterval(limit)
        let header = try receiveHeader(deadline: deadline, timeout: limit, maxPayload: maxPayload)
        let payload = buffer.prefix(header.length)
        try stream.read(into: payload, deadline: deadline, timeout: limit)
        let crc = Frame.crc32(UnsafeRawBufferPointer(payload), continuing: 0)
        guard crc == header.crc else { throw FrameError.checksum(expected: header.crc, computed: crc) }
        return (header, UnsafeRawBufferPointer(payload))
    }

    /// Sends one frame whose header (with its CRC) was made by the caller, then its payload as
    /// the given pieces, under the write lock (so no other frame lands in between). `write`
    /// takes bytes to go first (small ones gathered by the caller, e.g. the header) and then a
    /// large slice, sent together in one gathered write where the stream can.
    func sendFrame(payload: (_ write: (_ small: UnsafeRawBufferPointer, _ large: UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try writeLock.withLock {
            try payload { try stream.write($0, then: $1, timeout: writeTimeout) }
        }
    }

    /// Whether the stream is still open at both ends as far as can be told without blocking
    /// (see `ByteStream.isOpen`).
    public var isOpen: Bool { stream.isOpen }

    /// Closes the underlying stream.
    public func close() { stream.close() }
}
