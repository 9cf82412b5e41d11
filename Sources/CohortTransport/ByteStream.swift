/// A reliable, ordered byte stream with deadlines: plain TCP or TLS over it.
///
/// `TCPSocket` and `TLSStream` may be used from several threads at once: one reading, one
/// writing (callers serialise their own writes, as `FramedConnection` does), and any closing.
public protocol ByteStream: AnyObject {
    /// Reads exactly `count` bytes, or throws (peer closed, timeout, error). `timeout` bounds
    /// the whole read, so a peer trickling bytes cannot hold it forever.
    func read(exactly count: Int, timeout: Double) throws -> [UInt8]
    /// Writes all of `bytes` within `timeout` seconds.
    func write(_ bytes: [UInt8], timeout: Double) throws
    /// Closes the stream; further use throws. Safe to call more than once, and from another
    /// thread while a read or write is in progress: that call then fails promptly.
    func close()
    /// A human-readable peer address, for messages and logs.
    var peer: String { get }
}
