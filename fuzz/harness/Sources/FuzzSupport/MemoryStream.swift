import CohortTransport
import Foundation

/// A `ByteStream` that reads from fixed bytes and discards what is written: the fuzzer's
/// input plays the peer.
public final class MemoryStream: ByteStream {
    /// Thrown when a read asks for more bytes than are left (the peer "closed").
    public struct Closed: Error {}

    private let bytes: [UInt8]
    private var position = 0
    private var closed = false
    /// Whether writes are kept in `written` (for making seeds); off while fuzzing.
    private let recording: Bool
    /// What was written, when recording.
    public private(set) var written: [UInt8] = []

    /// A stream whose peer sends `bytes` and then closes.
    public init(_ bytes: [UInt8], recording: Bool = false) {
        self.bytes = bytes
        self.recording = recording
    }

    /// Bytes read so far.
    public var consumed: Int { position }

    public func read(exactly count: Int, timeout: Double) throws -> [UInt8] {
        guard !closed, count >= 0, count <= bytes.count - position else { throw Closed() }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    public func read(exactly count: Int, deadline: Date, timeout: Double) throws -> [UInt8] {
        try read(exactly: count, timeout: timeout)
    }

    public func write(_ bytes: UnsafeRawBufferPointer, timeout: Double) throws {
        guard !closed else { throw Closed() }
        if recording { written.append(contentsOf: bytes) }
    }

    public func close() { closed = true }
    public var peer: String { "fuzzer" }
    public var isOpen: Bool { !closed }
}
