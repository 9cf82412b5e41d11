import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// TLS 1.3 over a connected TCP socket (OpenSSL, non-blocking, with `poll` deadlines).
public final class TLSStream: ByteStream {
    private let socket: TCPSocket
    private var ssl: OpaquePointer?
    public var peer: String { socket.peer }

    /// Performs the handshake within `timeout` seconds. A client checks the server's
    /// certificate chain against its CA and the certificate's names against `serverName`.
    public init(socket: TCPSocket, context: TLSContext, serverName: String? = nil, timeout: Double) throws {
        self.socket = socket
        guard let ssl = SSL_new(context.context) else { throw TransportError("TLS: SSL_new failed: \(TLSContext.lastError())") }
        self.ssl = ssl
        SSL_set_fd(ssl, socket.fd)
        if !context.isServer, let name = serverName {
            let param = SSL_get0_param(ssl)
            let isIP = name.contains(":") || name.allSatisfy { $0.isNumber || $0 == "." }
            let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(param, name) : X509_VERIFY_PARAM_set1_host(param, name, 0)
            guard ok == 1 else { throw TransportError("TLS: cannot set the expected server name '\(name)'") }
            if !isIP { _ = SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: name)) }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let r = context.isServer ? SSL_accept(ssl) : SSL_connect(ssl)
            if r == 1 { break }
            try wait(SSL_get_error(ssl, r), deadline: deadline, doing: "handshake")
        }
    }

    deinit { close() }

    /// Waits for the socket as OpenSSL asks, or throws the failure it reported.
    private func wait(_ code: Int32, deadline: Date, doing what: String) throws {
        let left = deadline.timeIntervalSinceNow
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            let events = Int16(code == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)
            guard left > 0, TCPSocket.waitFor(fd: socket.fd, events: events, timeout: left) else {
                throw TransportError("\(peer): TLS \(what) timed out")
            }
        case SSL_ERROR_ZERO_RETURN:
            throw TransportError("\(peer): connection closed by peer during TLS \(what)")
        case SSL_ERROR_SYSCALL:
            throw TransportError("\(peer): connection closed by peer during TLS \(what)")
        default:
            var detail = TLSContext.lastError()
            if let ssl, SSL_get_verify_result(ssl) != X509_V_OK {
                detail = "certificate verification failed: " + String(cString: X509_verify_cert_error_string(SSL_get_verify_result(ssl)))
            }
            throw TransportError("\(peer): TLS \(what) failed: \(detail)")
        }
    }

    public func read(exactly count: Int, timeout: Double) throws -> [UInt8] {
        guard let ssl else { throw TransportError("\(peer): connection is closed") }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        let deadline = Date().addingTimeInterval(timeout)
        try out.withUnsafeMutableBytes { buf in
            while done < count {
                let n = SSL_read(ssl, buf.baseAddress! + done, Int32(min(count - done, Int(Int32.max))))
                if n > 0 { done += Int(n); continue }
                do { try wait(SSL_get_error(ssl, n), deadline: deadline, doing: "read") } catch {
                    throw TransportError("\(error) (\(done) of \(count) bytes)")
                }
            }
        }
        return out
    }

    public func write(_ bytes: [UInt8], timeout: Double) throws {
        guard let ssl else { throw TransportError("\(peer): connection is closed") }
        var done = 0
        let deadline = Date().addingTimeInterval(timeout)
        try bytes.withUnsafeBytes { buf in
            while done < bytes.count {
                let n = SSL_write(ssl, buf.baseAddress! + done, Int32(min(bytes.count - done, Int(Int32.max))))
                if n > 0 { done += Int(n); continue }
                try wait(SSL_get_error(ssl, n), deadline: deadline, doing: "write")
            }
        }
    }

    public func close() {
        if let ssl {
            SSL_shutdown(ssl)
            SSL_free(ssl)
            self.ssl = nil
        }
        socket.close()
    }
}
