#if canImport(Glibc)
import Glibc
#endif

/// Process-wide signal settings the transport relies on.
enum TransportSignals {
    /// OpenSSL writes to sockets with plain `write`, which raises SIGPIPE when the peer has
    /// reset the connection; the default action would kill the whole process. Ignoring it turns
    /// that into an EPIPE error on the one connection. Set once, lazily (thread-safe).
    private static let pipeIgnored: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Ignores SIGPIPE for the process (once).
    static func ignoreSIGPIPE() { pipeIgnored }
}
