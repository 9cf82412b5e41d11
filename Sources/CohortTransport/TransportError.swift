/// A transport failure, naming the peer and what happened.
public struct TransportError: Error, CustomStringConvertible, Equatable {
    public let description: String
    /// What happened to the connection, for callers that act on it (never parse `description`).
    public let kind: Kind
    public init(_ description: String, kind: Kind = .other) { self.description = description; self.kind = kind }

    /// What a transport failure means for the connection.
    public enum Kind: String, Sendable, Equatable {
        /// The peer closed or reset the connection (end of stream, ECONNRESET, EPIPE): its process
        /// ended or it hung up.
        case closedByPeer
        /// Nothing arrived (or nothing could be written) within the timeout.
        case timedOut
        /// This side closed the connection.
        case closedLocally
        /// Anything else: malformed data, a refusal, a failed system call.
        case other
    }

    static func system(_ what: String) -> TransportError {
        TransportError("\(what): \(String(cString: strerror(errno)))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
