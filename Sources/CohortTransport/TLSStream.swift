import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// TLS 1.3 over a connected TCP socket (OpenSSL, non-blocking, with `poll` deadlines).
///
/// An OpenSSL `SSL` object is not thread-safe, yet one thread may read while another writes
/// (a round and a heartbeat) and a third closes. So every `SSL_*` call on the stream, with the
/// `SSL_get_error` that interprets it, runs under `sslLock`; waiting for the socket in `poll`
/// happens outside it, so a blocked reader does not hold up a writer. `close()` only sends
/// close_notify and shuts the socket down; the `SSL` object is freed in `deinit`, when no call
/// can be running, and the descriptor is closed when no call is using it (`SocketDescriptor`).
public final class TLSStream: ByteStream, @unchecked Sendable {
    private let socket: TCPSocket
    private let ssl: OpaquePointer
    private let sslLock = NSLock()
    private let isServer: Bool
    /// Set by `close()`, under `sslLock`: no `SSL_*` I/O call starts afterwards.
    private var closed = false
    public var peer: String { socket.peer }

    /// Performs the handshake within `timeout` seconds. A client checks the server's
    /// certificate chain against its CA and the certificate's names against `serverName`.
    public convenience init(socket: TCPSocket, context: TLSContext, serverName: String? = nil, timeout: Double) throws {
        try self.init(unshaken: socket, context: context, serverName: serverName)
        let deadline = Date().addingTimeInterval(timeout)
        try socket.withDescriptor { fd in
            _ = try perform(fd: fd, deadline: deadline, timeout: timeout, doing: "handshake") { ssl in
                context.isServer ? SSL_accept(ssl) : SSL_connect(ssl)
            }
        }
    }

    /// A stream whose handshake has not started: drive it with `handshakeStep()` (the
    /// coordinator's `HandshakeGate` does, from its poll loop, so no thread waits on a peer).
    /// The socket must be non-blocking (accepted sockets are).
    init(unshaken socket: TCPSocket, context: TLSContext, serverName: String? = nil) throws {
        guard let ssl = SSL_new(context.context) else { throw TransportError("TLS: SSL_new failed: \(TLSContext.lastError())") }
        self.socket = socket
        self.ssl = ssl
        self.isServer = context.isServer
        // From here on a throw runs deinit, which frees `ssl`.
        if !context.isServer, let name = serverName {
            let param = SSL_get0_param(ssl)
            let isIP = name.contains(":") || name.allSatisfy { $0.isNumber || $0 == "." }
            let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(param, name) : X509_VERIFY_PARAM_set1_host(param, name, 0)
            guard ok == 1 else { throw TransportError("TLS: cannot set the expected server name '\(name)'") }
            if !isIP {
                _ = name.withCString { SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }
            }
        }
        try socket.withDescriptor { fd in
            guard SSL_set_fd(ssl, fd) == 1 else { throw TransportError("TLS: SSL_set_fd failed: \(TLSContext.lastError())") }
        }
    }

    deinit {
        close()
        SSL_free(ssl)
    }

    /// Runs `call` (one `SSL_*` I/O call) until it succeeds, returning its positive result.
    /// Waiting for the socket, as OpenSSL asks, happens outside `sslLock`, until `deadline`.
    private func perform(fd: Int32, deadline: Date, timeout: Double, doing what: String,
                         _ call: (OpaquePointer) -> Int32) throws -> Int32 {
        while true {
            let events: Int16
            switch try attempt(doing: what, call) {
            case let .done(r): return r
            case .wantRead: events = Int16(POLLIN)
            case .wantWrite: events = Int16(POLLOUT)
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0, TCPSocket.waitFor(fd: fd, events: events, timeout: left) else {
                throw TransportError("\(peer): TLS \(what) timed out after \(timeout) s", kind: .timedOut)
            }
        }
    }

    /// The outcome of one `SSL_*` I/O call that did not fail.
    enum Attempt: Equatable {
        /// It succeeded with this (positive) result.
        case done(Int32)
        /// It needs the socket readable, or writable, and must then be repeated unchanged.
        case wantRead, wantWrite
    }

    /// Runs `call` once. The call and `SSL_get_error` run under `sslLock` with a cleared error
    /// queue, so neither a concurrent call nor a stale queue entry can change how its outcome
    /// is read.
    private func attempt(doing what: String, _ call: (OpaquePointer) -> Int32) throws -> Attempt {
        sslLock.lock()
        if closed { sslLock.unlock(); throw TransportError("\(peer): connection is closed", kind: .closedLocally) }
        ERR_clear_error()
        let r = call(ssl)
        if r > 0 { sslLock.unlock(); return .done(r) }
        let code = SSL_get_error(ssl, r)
        let systemError = errno
        var failure: String? = nil
        var kind = TransportError.Kind.closedByPeer
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            break
        case SSL_ERROR_ZERO_RETURN:
            failure = "connection closed by peer during TLS \(what)"
        case SSL_ERROR_SYSCALL:
            failure = "connection closed by peer during TLS \(what)"
                + (systemError == 0 ? "" : " (\(String(cString: strerror(systemError))))")
        default:
            var detail = TLSContext.lastError()
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                detail = "certificate verification failed: " + String(cString: X509_verify_cert_error_string(verify))
            }
            failure = "TLS \(what) failed: \(detail)"
            kind = .other
        }
        ERR_clear_error()
        sslLock.unlock()
        if let failure { throw TransportError("\(peer): \(failure)", kind: kind) }
        return code == SSL_ERROR_WANT_READ ? .wantRead : .wantWrite
    }

    /// Advances the handshake of a stream made with `init(unshaken:)` as far as the socket
    /// allows without waiting: `.done` once it is complete (then read and write as usual),
    /// else what to poll the socket for before calling again. Throws on a failed handshake.
    func handshakeStep() throws -> Attempt {
        let server = isServer
        return try socket.withDescriptor { _ in
            try attempt(doing: "handshake") { ssl in server ? SSL_accept(ssl) : SSL_connect(ssl) }
        }
    }

    /// Reads up to `room` bytes (at least 1) into `destination` if any can be had without
    /// waiting: the count, or nil when the socket must first be polled for readability.
    /// Throws when the peer closed the connection or sent something malformed.
    func readAvailable(into destination: UnsafeMutableRawPointer, room: Int) throws -> Int? {
        try socket.withDescriptor { _ in
            switch try attempt(doing: "read", { ssl in SSL_read(ssl, destination, Int32(min(room, Int(Int32.max)))) }) {
            case let .done(n): return Int(n)
            // (WANT_WRITE, rare: a reply OpenSSL must send first. The caller polls for
            // readability and retries; a peer that stops reading meets the caller's deadline.)
            case .wantRead, .wantWrite: return nil
            }
        }
    }

    public func read(exactly count: Int, timeout: Double) throws -> [UInt8] {
        try read(exactly: count, deadline: Date().addingTimeInterval(timeout), timeout: timeout)
    }

    public func read(exactly count: Int, deadline: Date, timeout: Double) throws -> [UInt8] {
        try socket.withDescriptor { fd in
            try readGrowing(count: count) { try readSome(fd, $0, $1, done: $2, of: count, deadline: deadline, timeout: timeout) }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Date, timeout: Double) throws {
        try socket.withDescriptor { fd in
            try readFilling(buffer) { try readSome(fd, $0, $1, done: $2, of: buffer.count, deadline: deadline, timeout: timeout) }
        }
    }

    /// One `SSL_read` of between 1 and `room` bytes into `destination` (decrypted straight
    /// there), waiting until `deadline`; `done` of `count` bytes have come so far.
    private func readSome(_ fd: Int32, _ destination: UnsafeMutableRawPointer, _ room: Int, done: Int, of count: Int,
                          deadline: Date, timeout: Double) throws -> Int {
        do {
            return Int(try perform(fd: fd, deadline: deadline, timeout: timeout, doing: "read") { ssl in
                SSL_read(ssl, destination, Int32(min(room, Int(Int32.max))))
            })
        } catch {
            throw TransportError("\(error) (\(done) of \(count) bytes)")
        }
    }

    public func write(_ buf: UnsafeRawBufferPointer, timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        try socket.withDescriptor { fd in
            var done = 0
            while done < buf.count {
                // A retry after WANT_READ/WANT_WRITE repeats the same pointer and length,
                // as OpenSSL requires.
                let n = try perform(fd: fd, deadline: deadline, timeout: timeout, doing: "write") { ssl in
                    SSL_write(ssl, buf.baseAddress! + done, Int32(min(buf.count - done, Int(Int32.max))))
                }
                done += Int(n)
            }
        }
    }

    /// Whether the TCP connection underneath is open (a close_notify waiting unread counts as
    /// open; the peer's FIN that follows it does not).
    public var isOpen: Bool { !sslLock.withLock { closed } && socket.isOpen }

    /// Sends close_notify (best effort, without waiting) and shuts the socket down. Safe from
    /// any thread and more than once: a read or write in progress elsewhere fails promptly.
    public func close() {
        try? socket.withDescriptor { _ in
            sslLock.withLock {
                guard !closed else { return }
                closed = true
                if SSL_is_init_finished(ssl) == 1 {
                    ERR_clear_error()
                    _ = SSL_shutdown(ssl)
                    ERR_clear_error()
                }
            }
        }
        sslLock.withLock { closed = true }
        socket.close()
    }
}
