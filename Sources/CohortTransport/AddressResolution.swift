#if canImport(Glibc)
import Glibc
#endif

/// `getaddrinfo` for TCP, with the list freed after use.
enum AddressResolution {
    /// Resolves `host:port` and passes the candidate addresses to `body`. `listening` asks
    /// for a numeric, bindable address (no name lookups for the coordinator's own socket).
    static func withAddresses<R>(host: String, port: UInt16, listening: Bool,
                                 _ body: ([UnsafeMutablePointer<addrinfo>]) throws -> R) throws -> R {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        if listening { hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST }
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, list != nil else {
            let reason = String(cString: gai_strerror(status))
            throw TransportError(listening
                ? "cannot listen on '\(host)': \(reason) (give a numeric address such as 127.0.0.1 or ::1)"
                : "cannot resolve '\(host)': \(reason)")
        }
        defer { freeaddrinfo(list) }
        var addresses: [UnsafeMutablePointer<addrinfo>] = []
        var cursor = list
        while let ai = cursor { addresses.append(ai); cursor = ai.pointee.ai_next }
        return try body(addresses)
    }
}
