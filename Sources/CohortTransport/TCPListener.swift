import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket (non-blocking). `close()` may come from any thread, also while
/// another waits in `accept(timeout:)`, which then throws promptly.
public final class TCPListener: @unchecked Sendable {
    private let descriptor: SocketDescriptor
    /// The listening descriptor (−1 once closed). Only for inspection.
    public var fd: Int32 { descriptor.current }
    /// The bound port (useful when asked for port 0).
    public let port: UInt16
    public let host: String
    /// How long `accept` pauses before reporting a failure such as EMFILE (out of
    /// descriptors), so a caller that simply retries does not spin.
    static let failurePause: useconds_t = 100_000

    /// Listens on `host:port` (e.g. `127.0.0.1`, `::1`; port 0 picks a free one).
    public init(host: String, port: UInt16, backlog: Int32 = 1024) throws {
        TransportSignals.ignoreSIGPIPE()
        let fd = try AddressResolution.withAddresses(host: host, port: port, listening: true) { addresses -> Int32 in
            let ai = addresses[0]
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                            ai.pointee.ai_protocol)
            guard fd >= 0 else { throw TransportError.system("socket") }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
                let e = TransportError.system("cannot bind \(host):\(port)"); Glibc.close(fd); throw e
            }
            guard listen(fd, backlog) == 0 else { let e = TransportError.system("listen"); Glibc.close(fd); throw e }
            return fd
        }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let family = storage.ss_family
        let bound: UInt16 = withUnsafePointer(to: &storage) { p in
            if family == sa_family_t(AF_INET6) {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        self.descriptor = SocketDescriptor(fd)
        self.port = bound
        self.host = host
    }

    private enum Attempt {
        case accepted(Int32, String)
        case nothingYet
        case timedOut
        case failed(Int32)
    }

    /// Accepts one connection, or returns nil after `timeout` seconds. Throws once the listener
    /// is closed, and on failures such as EMFILE after pausing 0.1 s (retrying is then cheap).
    public func accept(timeout: Double) throws -> TCPSocket? {
        let deadline = Date().addingTimeInterval(timeout)
        let closedError = TransportError("listener is closed")
        while true {
            let attempt = try descriptor.use(orThrow: closedError) { fd -> Attempt in
                let left = deadline.timeIntervalSinceNow
                guard left > 0, TCPSocket.waitFor(fd: fd, events: Int16(POLLIN), timeout: left) else { return .timedOut }
                switch TCPListener.acceptOnce(fd) {
                case let .client(client, host, port): return .accepted(client, "\(host):\(port)")
                case .retry: return .nothingYet
                case .failed(let error): return .failed(error)
                }
            }
            switch attempt {
            case let .accepted(client, peer): return TCPSocket(fd: client, peer: peer)
            case .nothingYet: continue
            case .timedOut:
                if descriptor.isClosed { throw closedError }
                return nil
            case .failed(let error):
                if descriptor.isClosed { throw closedError }
                usleep(TCPListener.failurePause)
                throw TransportError("accept failed: \(String(cString: strerror(error)))")
            }
        }
    }

    /// What one raw `accept` on the listening descriptor gave.
    private enum RawAccept {
        /// A client descriptor and its peer's numeric host and port.
        case client(Int32, host: String, port: String)
        /// Nothing to take: the connection went away between poll and accept, or a signal came.
        case retry
        /// The accept failed with this `errno`.
        case failed(Int32)
    }

    /// One non-blocking accept on `fd`, naming the peer numerically.
    private static func acceptOnce(_ fd: Int32) -> RawAccept {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { acceptNonBlocking(fd, $0, &len) }
        }
        let error = errno
        guard client >= 0 else {
            return [EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO].contains(error) ? .retry : .failed(error)
        }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), serv = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        _ = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, len, &host, socklen_t(host.count), &serv, socklen_t(serv.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        return .client(client, host: text(host), port: text(serv))
    }

    /// A NUL-terminated C buffer as text.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What one non-blocking accept attempt gave.
    public enum Immediate {
        /// A connection, and its peer's numeric host (without the port).
        case accepted(TCPSocket, host: String)
        /// No connection is waiting (or it went away before it could be taken).
        case none
        /// The accept failed with `errno` (EMFILE, ENFILE, ENOBUFS, ...), or the listener is closed (-1).
        case failed(Int32)
    }

    /// Takes one waiting connection without blocking (for a caller that polls `fd` itself).
    public func acceptNow() -> Immediate {
        let attempt = try? descriptor.use(orThrow: TransportError("listener is closed")) { fd -> Immediate in
            switch TCPListener.acceptOnce(fd) {
            case let .client(client, host, port): return .accepted(TCPSocket(fd: client, peer: "\(host):\(port)"), host: host)
            case .retry: return .none
            case .failed(let error): return .failed(error)
            }
        }
        return attempt ?? .failed(-1)
    }

    /// `accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC)`: the accepted descriptor is
    /// non-blocking and close-on-exec from the start. Swift's Glibc module does not declare
    /// `accept4` (it needs _GNU_SOURCE), so it is looked up, as `HeapTuning` does `mallopt`;
    /// without it, `accept` then `fcntl`.
    private static func acceptNonBlocking(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>) -> Int32 {
        typealias Accept4 = @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "accept4") {
            return unsafeBitCast(symbol, to: Accept4.self)(fd, address, length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
        }
        let client = Glibc.accept(fd, address, length)
        if client >= 0 {
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
        }
        return client
    }

    /// Stops listening; safe from any thread and more than once. A concurrent
    /// `accept(timeout:)` wakes and throws "listener is closed".
    public func close() {
        descriptor.close()
    }
}
