/// A reliable, ordered byte stream with deadlines: plain TCP or TLS over it.
public protocol ByteStream: AnyObject {
    /// Reads exactly `count` bytes, or throws (peer closed, timeout, error). `timeout` bounds
    /// the whole read, so a peer trickling bytes cannot hold it forever.
    func read(exactly count: Int, timeout: Double) throws -> [UInt8]
    /// Writes all of `bytes` within `timeout` seconds.
    func write(_ bytes: [UInt8], timeout: Double) throws
    /// Closes the stream; further use throws.
    func close()
    /// A human-readable peer address, for messages and logs.
    var peer: String { get }
}
