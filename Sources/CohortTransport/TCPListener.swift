import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket.
public final class TCPListener {
    public private(set) var fd: Int32
    /// The bound port (useful when asked for port 0).
    public let port: UInt16
    public let host: String

    /// Listens on `host:port` (e.g. `127.0.0.1`, `::1`; port 0 picks a free one).
    public init(host: String, port: UInt16, backlog: Int32 = 1024) throws {
        TransportSignals.ignoreSIGPIPE()
        let fd = try AddressResolution.withAddresses(host: host, port: port, listening: true) { addresses -> Int32 in
            let ai = addresses[0]
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
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
        self.fd = fd
        self.port = bound
        self.host = host
    }

    deinit { close() }

    /// Accepts one connection, or returns nil after `timeout` seconds.
    public func accept(timeout: Double) throws -> TCPSocket? {
        guard fd >= 0 else { throw TransportError("listener is closed") }
        guard TCPSocket.waitFor(fd: fd, events: Int16(POLLIN), timeout: timeout) else { return nil }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &len) }
        }
        if client >= 0 {
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
        }
        guard client >= 0 else {
            if errno == EAGAIN || errno == EINTR || errno == ECONNABORTED { return nil }
            throw TransportError.system("accept")
        }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), serv = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        _ = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, len, &host, socklen_t(host.count), &serv, socklen_t(serv.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        return TCPSocket(fd: client, peer: "\(String(cString: host)):\(String(cString: serv))")
    }

    /// Stops listening.
    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}
