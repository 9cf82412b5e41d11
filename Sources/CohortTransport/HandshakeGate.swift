import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A coordinator's front door: accepts connections and runs their handshakes with bounded work
/// before authentication (spec: `protocols/wire.md`, "Connection limits").
///
/// One thread (the caller of `run`) polls the listener and every unauthenticated connection.
/// Plain TCP handshakes run on it without blocking: a frame's bytes are collected as they
/// arrive (at most `limits.maxPayload` per frame), and only a complete HELLO or AUTH is acted
/// on. TLS handshakes block, so a connection that has sent its first bytes goes to one of
/// `limits.tlsWorkers` threads. Threads therefore stay at 1 (plain) or 1 + `tlsWorkers` (TLS)
/// whatever arrives, unauthenticated connections at `limits.maxPending` (per address
/// `maxPendingPerAddress`), each for at most `limits.deadline` seconds.
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
        /// The most unauthenticated connections held at once.
        public var peakPending = 0
    }

    /// Called with an authenticated connection (on the gate's thread for plain TCP, a TLS
    /// worker's otherwise); throwing refuses it (its socket is closed and `onRefused` called).
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
        var buffer: [UInt8] = []
        var need = Frame.headerSize
        var header: FrameHeader?
        var challenged: Handshake.Challenged?
        var handedOff = false
        init(id: Int, socket: TCPSocket, fd: Int32, host: String, since: Date, conn: FramedConnection) {
            self.id = id; self.socket = socket; self.fd = fd; self.host = host; self.since = since; self.conn = conn
        }
        /// True once the peer was sent CHALLENGE (or, under TLS, went to a handshake thread).
        var pastHello: Bool { challenged != nil || handedOff }
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
    /// TLS handoff: the queue the workers take from, and the ids they are done with.
    private let queue = NSCondition()
    private var handed: [Pending] = []
    private var finished: [Int] = []
    private var stopping = false

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
        var workers: [Thread] = []
        if tls != nil {
            for _ in 0..<limits.tlsWorkers {
                let t = Thread { [self] in tlsWorker() }
                t.start()
                workers.append(t)
            }
        }
        var acceptPausedUntil = Date.distantPast
        var fds: [pollfd] = []
        var ids: [Int] = []
        while !stopped() {
            let now = Date()
            collectFinished()
            expire(now: now)
            reportIfDue(now: now)
            fds.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
            let listenFD = now >= acceptPausedUntil ? listener.fd : -1
            if listenFD >= 0 { fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)) }
            for p in pending.values where !p.handedOff {
                fds.append(pollfd(fd: p.fd, events: Int16(POLLIN), revents: 0))
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
        queue.withLock { stopping = true; queue.broadcast() }
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
                let conn = FramedConnection(stream: socket, maxPayload: limits.maxPayload, readTimeout: limits.deadline, writeTimeout: 1)
                let p = Pending(id: nextID, socket: socket, fd: fd, host: host, since: Date(), conn: conn)
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

    /// The oldest connection that has not yet sent a complete HELLO, else the oldest. A real
    /// node sends HELLO at once and is answered within the same turn, so it is never the oldest
    /// of those (whatever the flood sends: nothing, or a frame it never finishes).
    private func victim(where matches: (Pending) -> Bool) -> Pending? {
        var early: Pending?, oldest: Pending?
        for p in pending.values where matches(p) {
            if oldest == nil || p.id < oldest!.id { oldest = p }
            if !p.pastHello, early == nil || p.id < early!.id { early = p }
        }
        return early ?? oldest
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

    /// Reads what `p` has sent and acts on a complete frame.
    private func step(_ p: Pending) {
        if tls != nil {
            p.handedOff = true
            queue.withLock { handed.append(p); queue.signal() }
            return
        }
        let room = p.need - p.buffer.count
        let n = scratch.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress!, room, Int32(MSG_DONTWAIT)) }
        let error = errno
        if n == 0 || (n < 0 && error != EAGAIN && error != EINTR) {
            drop(p); count { $0.closedByPeer += 1 }
            return
        }
        guard n > 0 else { return }
        p.buffer.append(contentsOf: scratch[0..<n])
        do {
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
        } catch {
            drop(p)
            count { $0.refused += 1 }
            onRefused(p.socket.peer, error)
        }
    }

    /// A TLS handshake thread: TLS, then the session handshake, with the gate's deadline.
    private func tlsWorker() {
        guard let tls else { return }
        while true {
            queue.lock()
            while handed.isEmpty && !stopping { queue.wait() }
            if handed.isEmpty { queue.unlock(); return }
            let p = handed.removeFirst()
            queue.unlock()
            let left = limits.deadline - Date().timeIntervalSince(p.since)
            do {
                guard left > 0 else { throw TransportError("\(p.socket.peer): handshake deadline passed", kind: .timedOut) }
                let stream = try TLSStream(socket: p.socket, context: tls, timeout: left)
                let conn = FramedConnection(stream: stream, maxPayload: limits.maxPayload, readTimeout: left)
                let id = try Handshake.accept(conn, secrets: secrets, timeout: left, admissible: admissible)
                queue.withLock { finished.append(p.id) }
                count { $0.admitted += 1 }
                do { try onAdmitted(conn, id) } catch {
                    conn.close()
                    onRefused(p.socket.peer, error)
                }
            } catch {
                p.socket.close()
                queue.withLock { finished.append(p.id) }
                count { $0.refused += 1 }
                onRefused(p.socket.peer, error)
            }
        }
    }

    /// Forgets the connections the TLS workers are done with (their sockets are theirs).
    private func collectFinished() {
        guard tls != nil else { return }
        let done: [Int] = queue.withLock { let d = finished; finished = []; return d }
        for id in done { if let p = pending[id] { forget(p) } }
    }

    /// Every 10 s, one log line for the connections dropped before authenticating (never one
    /// per connection: a flood must not flood the log).
    private func reportIfDue(now: Date) {
        guard now.timeIntervalSince(lastReport) >= 10 else { return }
        lastReport = now
        let c = snapshot
        let evicted = c.evicted - reported.evicted, expired = c.expired - reported.expired
        let closed = c.closedByPeer - reported.closedByPeer, failures = c.acceptFailures - reported.acceptFailures
        reported = c
        guard evicted + expired + closed + failures > 0 else { return }
        log("unauthenticated connections in the last 10 s: \(evicted) closed to stay within \(limits.maxPending) pending "
            + "(\(limits.maxPendingPerAddress) per address), \(expired) past the \(Int(limits.deadline)) s deadline, "
            + "\(closed) closed by the peer, \(failures) accept failures; \(pending.count) pending now")
    }
}
