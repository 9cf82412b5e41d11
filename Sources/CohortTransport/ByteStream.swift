import Foundation

/// A reliable, ordered byte stream with deadlines: plain TCP or TLS over it.
///
/// `TCPSocket` and `TLSStream` may be used from several threads at once: one reading, one
/// writing (callers serialise their own writes, as `FramedConnection` does), and any closing.
public protocol ByteStream: AnyObject {
    /// Reads exactly `count` bytes, or throws (peer closed, timeout, error). `timeout` bounds
    /// the whole read, so a peer trickling bytes cannot hold it forever.
    func read(exactly count: Int, timeout: Double) throws -> [UInt8]
    /// Reads exactly `count` bytes by `deadline`, which was set for a larger read of `timeout`
    /// seconds (a whole frame: header then payload); `timeout` is only for messages.
    func read(exactly count: Int, deadline: Date, timeout: Double) throws -> [UInt8]
    /// Writes all of `bytes` within `timeout` seconds.
    func write(_ bytes: UnsafeRawBufferPointer, timeout: Double) throws
    /// Writes all of `first` then all of `second` within `timeout` seconds, as one gathered
    /// write where the stream can (a frame's header and its payload in one system call).
    func write(_ first: UnsafeRawBufferPointer, then second: UnsafeRawBufferPointer, timeout: Double) throws
    /// Fills all of `buffer` (a caller's reused buffer: nothing is allocated) by `deadline`,
    /// which was set for a larger read of `timeout` seconds, or throws as `read(exactly:)`.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Date, timeout: Double) throws
    /// Closes the stream; further use throws. Safe to call more than once, and from another
    /// thread while a read or write is in progress: that call then fails promptly.
    func close()
    /// A human-readable peer address, for messages and logs.
    var peer: String { get }
    /// False once the stream is closed here, or the peer is seen to have closed or reset it
    /// (checked without blocking or consuming bytes: a zero-timeout `poll` for hang-up). True
    /// does not promise the peer is still there (a vanished host is only noticed by a failed
    /// write or read).
    var isOpen: Bool { get }
}

extension ByteStream {
    /// Writes all of `bytes` within `timeout` seconds.
    public func write(_ bytes: [UInt8], timeout: Double) throws {
        try bytes.withUnsafeBytes { try write($0, timeout: timeout) }
    }

    /// For streams without gathered writes: two writes.
    public func write(_ first: UnsafeRawBufferPointer, then second: UnsafeRawBufferPointer, timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        try write(first, timeout: timeout)
        try write(second, timeout: max(deadline.timeIntervalSinceNow, 0))
    }

    /// For streams without reads into a caller's buffer: a read, then a copy.
    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Date, timeout: Double) throws {
        let bytes = try read(exactly: buffer.count, deadline: deadline, timeout: timeout)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }

    /// For streams without deadline support: the time left before `deadline`.
    public func read(exactly count: Int, deadline: Date, timeout: Double) throws -> [UInt8] {
        try read(exactly: count, timeout: deadline.timeIntervalSinceNow)
    }
}

/// Fills all of `buffer` from `readSome(destination, room, done)` (as `readGrowing`, into a
/// buffer the caller already holds).
func readFilling(_ buffer: UnsafeMutableRawBufferPointer, _ readSome: (UnsafeMutableRawPointer, Int, Int) throws -> Int) throws {
    var done = 0
    while done < buffer.count {
        done += try readSome(buffer.baseAddress! + done, buffer.count - done, done)
    }
}

/// How far a read buffer may grow ahead of the bytes that have arrived.
let readGrowthStep = 1 << 20

/// Collects exactly `count` bytes from `readSome(destination, room, done)`, which stores
/// between 1 and `room` bytes at `destination` and returns how many (or throws); `done` is the
/// number collected so far. The buffer grows by at most `readGrowthStep` bytes at a time, and
/// only once earlier bytes have arrived, so a peer that announces a large count and then stalls
/// costs memory for what it sent, not for what it announced. (Capacity grows geometrically,
/// capped at `count`, so large reads copy each byte O(1) times.)
func readGrowing(count: Int, _ readSome: (UnsafeMutableRawPointer, Int, Int) throws -> Int) throws -> [UInt8] {
    var out: [UInt8] = []
    var done = 0
    while done < count {
        if done == out.count {
            let step = min(readGrowthStep, count - done)
            if out.capacity < done + step { out.reserveCapacity(min(count, max(done + step, 2 * out.capacity))) }
            out.append(contentsOf: repeatElement(0, count: step))
        }
        let end = out.count, offset = done
        let n = try out.withUnsafeMutableBytes { try readSome($0.baseAddress! + offset, end - offset, offset) }
        done += n
    }
    return out
}
