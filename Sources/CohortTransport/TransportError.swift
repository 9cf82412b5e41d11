/// A transport failure, naming the peer and what happened.
public struct TransportError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }

    static func system(_ what: String) -> TransportError {
        TransportError("\(what): \(String(cString: strerror(errno)))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
