import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection over a POSIX socket, with deadlines enforced by `poll`. One thread may
/// read while another writes; `close()` may come from any thread (see `SocketDescriptor`).
public final class TCPSocket: ByteStream, @unchecked Sendable {
    let descriptor: SocketDescriptor
    public let peer: String

    /// The file descriptor (−1 once closed). Only for inspection: it is closed (and its number
    /// may be reused) as soon as no call of this socket is using it.
    public var fd: Int32 { descriptor.current }

    init(fd: Int32, peer: String) {
        TransportSignals.ignoreSIGPIPE()
        descriptor = SocketDescriptor(fd)
        self.peer = peer
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        // Our own sends use MSG_NOSIGNAL; OpenSSL's writes rely on SIGPIPE being ignored.
    }

    /// Connects to `host:port` (numeric or resolvable), trying each address until one answers
    /// within `timeout` seconds.
    public static func connect(host: String, port: UInt16, timeout: Double) throws -> TCPSocket {
        TransportSignals.ignoreSIGPIPE()
        return try AddressResolution.withAddresses(host: host, port: port, listening: false) { addresses in
            var lastError = "no address"
            for ai in addresses {
                let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
                guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
                    lastError = String(cString: strerror(errno)); Glibc.close(fd); continue
                }
                guard waitFor(fd: fd, events: Int16(POLLOUT), timeout: timeout) else {
                    lastError = "timed out after \(timeout) s"; Glibc.close(fd); continue
                }
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                guard err == 0 else { lastError = String(cString: strerror(err)); Glibc.close(fd); continue }
                return TCPSocket(fd: fd, peer: "\(host):\(port)")
            }
            throw TransportError("cannot connect to \(host):\(port): \(lastError)")
        }
    }

    /// Waits until `fd` is ready for `events` or `timeout` passes; false on timeout.
    static func waitFor(fd: Int32, events: Int16, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&p, 1, Int32(min(left * 1000, Double(Int32.max)).rounded(.up)))
            if n > 0 { return true }
            if n < 0 && errno != EINTR { return true } // let the following call report the error
        }
    }

    /// Linux's `POLLRDHUP`: the peer shut down its side (set even while unread bytes remain).
    static let pollPeerHangUp: Int16 = 0x2000

    public var isOpen: Bool {
        (try? withDescriptor { fd -> Bool in
            var p = pollfd(fd: fd, events: Int16(POLLIN) | Self.pollPeerHangUp, revents: 0)
            guard poll(&p, 1, 0) >= 0 else { return true }   // EINTR and the like: no news
            return p.revents & (Self.pollPeerHangUp | Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL)) == 0
        }) ?? false
    }

    /// Runs `body` with the descriptor, kept open until it returns; throws once closed.
    func withDescriptor<R>(_ body: (Int32) throws -> R) throws -> R {
        try descriptor.use(orThrow: TransportError("\(peer): connection is closed", kind: .closedLocally), body)
    }

    public func read(exactly count: Int, timeout: Double) throws -> [UInt8] {
        try read(exactly: count, deadline: Date().addingTimeInterval(timeout), timeout: timeout)
    }

    public func read(exactly count: Int, deadline: Date, timeout: Double) throws -> [UInt8] {
        try withDescriptor { fd in
            try readGrowing(count: count) { try receiveSome(fd, $0, $1, done: $2, of: count, deadline: deadline, timeout: timeout) }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Date, timeout: Double) throws {
        try withDescriptor { fd in
            try readFilling(buffer) { try receiveSome(fd, $0, $1, done: $2, of: buffer.count, deadline: deadline, timeout: timeout) }
        }
    }

    /// One `recv` of between 1 and `room` bytes into `destination`, waiting until `deadline`;
    /// `done` of `count` bytes have come so far (for messages).
    private func receiveSome(_ fd: Int32, _ destination: UnsafeMutableRawPointer, _ room: Int, done: Int, of count: Int,
                             deadline: Date, timeout: Double) throws -> Int {
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0, TCPSocket.waitFor(fd: fd, events: Int16(POLLIN), timeout: left) else {
                throw TransportError("\(peer): read timed out after \(timeout) s (\(done) of \(count) bytes)", kind: .timedOut)
            }
            let n = recv(fd, destination, room, 0)
            let error = errno
            if n > 0 { return n }
            if n < 0 && (error == EINTR || error == EAGAIN) { continue }
            if descriptor.isClosed { throw TransportError("\(peer): connection is closed (\(done) of \(count) bytes)", kind: .closedLocally) }
            if n == 0 { throw TransportError("\(peer): connection closed by peer (\(done) of \(count) bytes)", kind: .closedByPeer) }
            throw TransportError("\(peer): read failed: \(String(cString: strerror(error)))", kind: Self.kind(ofErrno: error))
        }
    }

    public func write(_ buf: UnsafeRawBufferPointer, timeout: Double) throws {
        try write(buf, then: UnsafeRawBufferPointer(start: nil, count: 0), timeout: timeout)
    }

    /// Writes `first` then `second` with `sendmsg` over both (one system call for a frame's
    /// header and a large payload slice, no copy to join them), going on from where a short
    /// write stopped.
    public func write(_ first: UnsafeRawBufferPointer, then second: UnsafeRawBufferPointer, timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        let total = first.count + second.count
        try withDescriptor { fd in
            var done = 0
            while done < total {
                let left = deadline.timeIntervalSinceNow
                guard left > 0, TCPSocket.waitFor(fd: fd, events: Int16(POLLOUT), timeout: left) else {
                    throw TransportError("\(peer): write timed out after \(timeout) s (\(done) of \(total) bytes)", kind: .timedOut)
                }
                let n = Self.sendGathered(fd, first, second, from: done)
                let error = errno
                if n >= 0 { done += n; continue }
                if error == EINTR || error == EAGAIN { continue }
                if descriptor.isClosed { throw TransportError("\(peer): connection is closed (\(done) of \(total) bytes written)", kind: .closedLocally) }
                throw TransportError("\(peer): write failed: \(String(cString: strerror(error)))", kind: Self.kind(ofErrno: error))
            }
        }
    }

    /// One `sendmsg` of the bytes of `first` then `second` from offset `done` on.
    private static func sendGathered(_ fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, from done: Int) -> Int {
        var parts: [iovec] = []
        parts.reserveCapacity(2)
        if done < first.count {
            parts.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress! + done), iov_len: first.count - done))
        }
        let intoSecond = max(0, done - first.count)
        if intoSecond < second.count {
            parts.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress! + intoSecond), iov_len: second.count - intoSecond))
        }
        return parts.withUnsafeMutableBufferPointer { iov in
            var message = msghdr()
            message.msg_iov = iov.baseAddress
            message.msg_iovlen = iov.count
            return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
        }
    }

    /// Shuts the connection down and marks it closed; safe from any thread and more than once.
    /// A read or write in progress on another thread fails promptly; the descriptor is closed
    /// once no call is using it.
    public func close() {
        descriptor.close()
    }

    /// `.closedByPeer` for the errors a peer's hang-up or death gives (reset, broken pipe), else `.other`.
    static func kind(ofErrno error: Int32) -> TransportError.Kind {
        error == ECONNRESET || error == EPIPE || error == ECONNABORTED ? .closedByPeer : .other
    }
}
