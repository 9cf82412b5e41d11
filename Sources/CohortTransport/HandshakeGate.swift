import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A coordinator's front door: accepts connections and runs their handshakes with bounded work
/// before authentication (spec: `protocols/wire.md`, "Connection limits").
///
/// One thread (the caller of `run`) polls the listener and every unauthenticated connection,
/// and runs every handshake on it without blocking. Under TLS, `SSL_accept` runs on the
/// non-blocking socket each time it is ready, and the socket is polled for what OpenSSL asks
/// next (readable or writable). Then a frame's bytes are collected as they arrive (at most
/// `limits.maxPayload` per frame), and only a complete HELLO or AUTH is acted on. Threads
/// therefore stay at 1 whatever arrives (plain or TLS), unauthenticated connections at
/// `limits.maxPending` (per address `maxPendingPerAddress`), each for at most
/// `limits.deadline` seconds.
public final class HandshakeGate: @unchecked Sendable {
    /// What the gate has done so far.
    public struct Counters: Sendable, Equatable {
        public var accepted = 0
        public var admitted = 0
        /// Refused by the handshake (bad frame, unknown name, wrong secret, name in use, ...).
        public var refused = 0
        /// Closed to make room under `maxPending` or `maxPendingPerAddress`.
        public var evicted = 0
        /// Closed at the deadline.
        public var expired = 0
        /// Closed by the peer before authenticating.
        public var closedByPeer = 0
        /// `accept` failures (EMFILE and the like); accepting pauses 0.1 s after each.
        public var acceptFailures = 0
        /// TLS handshakes that failed (not TLS, a bad record, an alert); counted, not logged
        /// one by one.
        public var tlsFailed = 0
        /// The most unauthenticated connections held at once.
        public var peakPending = 0
    }

    /// Called with an authenticated connection, on the gate's thread (so it must not block);
    /// throwing refuses it (its socket is closed and `onRefused` called).
    public typealias Admit = (FramedConnection, Handshake.NodeIdentity) throws -> Void

    private let listener: TCPListener
    private let secrets: [String: [UInt8]]
    private let tls: TLSContext?
    public let limits: HandshakeLimits
    private let admissible: (String) -> Bool
    private let onAdmitted: Admit
    private let onRefused: (String, Error) -> Void
    private let log: (String) -> Void

    private final class Pending: @unchecked Sendable {
        let id: Int
        let socket: TCPSocket
        let fd: Int32
        let host: String
        let since: Date
        let conn: FramedConnection
        /// The TLS layer, under TLS; `tlsReady` once its handshake is complete.
        let tls: TLSStream?
        var tlsReady = false
        /// Poll for writability (TLS asked for it) instead of readability.
        var wantWrite = false
        /// When the peer last moved its handshake on (accept, TLS progress, frame bytes).
        var lastProgress: Date
        var buffer: [UInt8] = []
        var need = Frame.headerSize
        var header: FrameHeader?
        var challenged: Handshake.Challenged?
        init(id: Int, socket: TCPSocket, fd: Int32, host: String, since: Date, conn: FramedConnection, tls: TLSStream?) {
            self.id = id; self.socket = socket; self.fd = fd; self.host = host; self.since = since; self.conn = conn
            self.tls = tls; self.lastProgress = since
        }
        /// True once the peer was sent CHALLENGE.
        var pastHello: Bool { challenged != nil }
    }

    // Touched by the gate thread only.
    private var pending: [Int: Pending] = [:]
    private var perAddress: [String: Int] = [:]
    private var nextID = 0
    private var scratch = [UInt8](repeating: 0, count: 1 << 16)
    private var reported = Counters()
    private var lastReport = Date()

    private let countersLock = NSLock()
    private var counters = Counters()

    /// A gate for `listener`'s connections, authenticating against `secrets` (over `tls` if
    /// given). `admissible(name)` is asked before WELCOME (false: the name has a live session).
    public init(listener: TCPListener, secrets: [String: [UInt8]], tls: TLSContext?, limits: HandshakeLimits,
                admissible: @escaping (String) -> Bool, onAdmitted: @escaping Admit,
                onRefused: @escaping (String, Error) -> Void, log: @escaping (String) -> Void) {
        self.listener = listener
        self.secrets = secrets
        self.tls = tls
        self.limits = limits
        self.admissible = admissible
        self.onAdmitted = onAdmitted
        self.onRefused = onRefused
        self.log = log
    }

    /// A snapshot of the counters.
    public var snapshot: Counters { countersLock.withLock { counters } }

    private func count(_ change: (inout Counters) -> Void) { countersLock.withLock { change(&counters) } }

    /// Accepts and authenticates until `stopped()` is true (checked at least every 0.1 s), then
    /// closes every connection still unauthenticated. Call from one thread.
    public func run(until stopped: () -> Bool) {
        var acceptPausedUntil = Date.distantPast
        var fds: [pollfd] = []
        var ids: [Int] = []
        while !stopped() {
            let now = Date()
            expire(now: now)
            reportIfDue(now: now)
            fds.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
            let listenFD = now >= acceptPausedUntil ? listener.fd : -1
            if listenFD >= 0 { fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)) }
            for p in pending.values {
                fds.append(pollfd(fd: p.fd, events: Int16(p.wantWrite ? POLLOUT : POLLIN), revents: 0))
                ids.append(p.id)
            }
            let n = poll(&fds, nfds_t(fds.count), 100)
            guard n > 0 else { continue }
            let base = listenFD >= 0 ? 1 : 0
            // Connections that sent something go first, so a node's HELLO is read before a
            // batch of new arrivals could push it out.
            for (i, id) in ids.enumerated() where fds[base + i].revents != 0 {
                if let p = pending[id] { step(p) }
            }
            if base == 1 && fds[0].revents != 0 && !acceptBatch() {
                acceptPausedUntil = Date().addingTimeInterval(Double(TCPListener.failurePause) / 1e6)
            }
        }
        for p in pending.values { p.socket.close() }
        pending.removeAll()
        perAddress.removeAll()
    }

    /// Accepts up to 16 waiting connections; false after an accept failure (EMFILE, ...).
    private func acceptBatch() -> Bool {
        for _ in 0..<16 {
            switch listener.acceptNow() {
            case .none: return true
            case .failed:
                count { $0.acceptFailures += 1 }
                return false
            case let .accepted(socket, host):
                makeRoom(for: host)
                let fd = socket.fd
                var stream: TLSStream?
                if let tls {
                    do { stream = try TLSStream(unshaken: socket, context: tls) } catch {
                        socket.close()
                        count { $0.accepted += 1; $0.tlsFailed += 1 }
                        continue
                    }
                }
                let conn = FramedConnection(stream: stream ?? socket, maxPayload: limits.maxPayload, readTimeout: limits.deadline, writeTimeout: 1)
                let p = Pending(id: nextID, socket: socket, fd: fd, host: host, since: Date(), conn: conn, tls: stream)
                nextID += 1
                pending[p.id] = p
                perAddress[host, default: 0] += 1
                let held = pending.count
                count { $0.accepted += 1; $0.peakPending = max($0.peakPending, held) }
            }
        }
        return true
    }

    /// Closes a connection (see `victim`) from `host` if it is at its cap, and overall if the gate is.
    private func makeRoom(for host: String) {
        if perAddress[host, default: 0] >= limits.maxPendingPerAddress, let victim = victim(where: { $0.host == host }) {
            drop(victim); count { $0.evicted += 1 }
        }
        if pending.count >= limits.maxPending, let victim = victim(where: { _ in true }) {
            drop(victim); count { $0.evicted += 1 }
        }
    }

    /// Of the connections that have not yet sent a complete HELLO, the one whose handshake
    /// has stood still longest (no TLS progress, no frame bytes); else the oldest. A real node
    /// moves on at every turn (ClientHello, TLS Finished, HELLO), so it is never the one that
    /// stood still longest, whatever the flood sends: nothing, part of a ClientHello or a
    /// frame, or a whole ClientHello and then silence.
    private func victim(where matches: (Pending) -> Bool) -> Pending? {
        var stalled: Pending?, oldest: Pending?
        for p in pending.values where matches(p) {
            if oldest == nil || p.id < oldest!.id { oldest = p }
            if !p.pastHello, stalled == nil || (p.lastProgress, p.id) < (stalled!.lastProgress, stalled!.id) { stalled = p }
        }
        return stalled ?? oldest
    }

    /// Closes `p` and forgets it.
    private func drop(_ p: Pending) {
        p.socket.close()
        forget(p)
    }

    private func forget(_ p: Pending) {
        guard pending.removeValue(forKey: p.id) != nil else { return }
        let left = perAddress[p.host, default: 1] - 1
        perAddress[p.host] = left > 0 ? left : nil
    }

    private func expire(now: Date) {
        for p in pending.values where now.timeIntervalSince(p.since) > limits.deadline {
            drop(p); count { $0.expired += 1 }
        }
    }

    /// Moves `p`'s handshake on as far as its socket allows without waiting: TLS first (under
    /// TLS), then reads what it has sent and acts on each complete frame.
    private func step(_ p: Pending) {
        if let stream = p.tls, !p.tlsReady {
            do {
                switch try stream.handshakeStep() {
                case .done:
                    p.tlsReady = true
                    p.wantWrite = false
                    p.lastProgress = Date()
                case .wantRead:
                    p.wantWrite = false
                    p.lastProgress = Date()
                    return
                case .wantWrite:
                    p.wantWrite = true
                    return
                }
            } catch {
                drop(p)
                let byPeer = (error as? TransportError)?.kind == .closedByPeer
                count { if byPeer { $0.closedByPeer += 1 } else { $0.tlsFailed += 1 } }
                return
            }
        }
        // Each pass reads at most to the end of the current frame, so nothing past AUTH is
        // taken from the session; it ends when the socket has no more (or `p` left the gate).
        while pending[p.id] === p {
            let received: Int?
            do { received = try receive(p, room: p.need - p.buffer.count) } catch {
                drop(p)
                let byPeer = (error as? TransportError)?.kind != .other
                count { if byPeer { $0.closedByPeer += 1 } else { $0.tlsFailed += 1 } }
                return
            }
            guard let n = received else { return }
            p.buffer.append(contentsOf: scratch[0..<n])
            p.lastProgress = Date()
            do { try act(p) } catch {
                drop(p)
                count { $0.refused += 1 }
                onRefused(p.socket.peer, error)
                return
            }
        }
    }

    /// Up to `room` bytes from `p` into `scratch` without waiting: the count, or nil if none
    /// are there. Throws when the peer closed the connection (`.closedByPeer`) or, under TLS,
    /// sent a bad record (`.other`).
    private func receive(_ p: Pending, room: Int) throws -> Int? {
        let limit = min(room, scratch.count)
        if let stream = p.tls {
            return try scratch.withUnsafeMutableBytes { try stream.readAvailable(into: $0.baseAddress!, room: limit) }
        }
        let n = scratch.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress!, limit, Int32(MSG_DONTWAIT)) }
        let error = errno
        if n > 0 { return n }
        if n < 0 && (error == EAGAIN || error == EWOULDBLOCK || error == EINTR) { return nil }
        throw TransportError("\(p.socket.peer): connection closed by peer before authenticating", kind: .closedByPeer)
    }

    /// Acts on `p`'s buffer once it holds a complete header or frame: HELLO is answered with
    /// CHALLENGE, AUTH ends the handshake (WELCOME, then `onAdmitted`). Throws to refuse.
    private func act(_ p: Pending) throws {
        if p.header == nil && p.buffer.count == Frame.headerSize {
            let header = try FrameHeader.parse(p.buffer, maxPayload: limits.maxPayload)
            p.header = header
            p.need = Frame.headerSize + header.length
        }
        guard let header = p.header, p.buffer.count == p.need else { return }
        let payload = Array(p.buffer[Frame.headerSize...])
        let crc = Frame.crc32(payload)
        guard crc == header.crc else { throw FrameError.checksum(expected: header.crc, computed: crc) }
        let frame = Frame(version: header.version, type: header.type, payload: payload)
        p.buffer = []
        p.header = nil
        p.need = Frame.headerSize
        if let challenged = p.challenged {
            let id = try Handshake.finish(p.conn, challenged, reply: frame, admissible: admissible)
            forget(p)
            p.conn.writeTimeout = 30
            count { $0.admitted += 1 }
            try onAdmitted(p.conn, id)
        } else {
            p.challenged = try Handshake.answerHello(p.conn, frame, secrets: secrets)
        }
    }

    /// Every 10 s, one log line for the connections dropped before authenticating (never one
    /// per connection: a flood must not flood the log).
    private func reportIfDue(now: Date) {
        guard now.timeIntervalSince(lastReport) >= 10 else { return }
        lastReport = now
        let c = snapshot
        let evicted = c.evicted - reported.evicted, expired = c.expired - reported.expired
        let closed = c.closedByPeer - reported.closedByPeer, failures = c.acceptFailures - reported.acceptFailures
        let tlsFailed = c.tlsFailed - reported.tlsFailed
        reported = c
        guard evicted + expired + closed + failures + tlsFailed > 0 else { return }
        log("unauthenticated connections in the last 10 s: \(evicted) closed to stay within \(limits.maxPending) pending "
            + "(\(limits.maxPendingPerAddress) per address), \(expired) past the \(Int(limits.deadline)) s deadline, "
            + "\(closed) closed by the peer, \(failures) accept failures"
            + (tls == nil ? "" : ", \(tlsFailed) failed TLS handshakes") + "; \(pending.count) pending now")
    }
}
