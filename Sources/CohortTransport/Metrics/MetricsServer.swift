import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.x endpoint for monitoring: `GET /metrics` (the registry in Prometheus text
/// format), `GET /healthz` (200 while the process serves) and `GET /readyz` (200 once `ready`
/// says so, else 503).
///
/// One thread polls the listener and every open connection, and never waits on one client:
/// request bytes are collected as they arrive and the answer is written as the client takes
/// it. Each request must arrive within 2 s and its head within 8 KiB, each answer must be taken
/// within 2 s, and the connection is closed after the answer. At most `maxConnections` are
/// open; one more closes the oldest. So a stuck or hostile client costs its own connection,
/// not the endpoint's other clients, and nothing of the federation.
public final class MetricsServer: @unchecked Sendable {
    private let listener: TCPListener
    private let registry: MetricsRegistry
    private let ready: @Sendable () -> Bool
    private let lock = NSLock()
    private var stopped = false
    static let maxRequestHead = 8 << 10
    static let requestTimeout = 2.0
    /// Most connections open at once (a scraper needs one).
    static let maxConnections = 16

    /// One client connection, touched by the serving thread only.
    private final class Client {
        let socket: TCPSocket
        let fd: Int32
        let id: Int
        /// Until when the request (then the answer) may take.
        var deadline: Date
        var head: [UInt8] = []
        /// The answer, once the request is complete, and how much of it is written.
        var answer: [UInt8]?
        var written = 0
        init(socket: TCPSocket, id: Int) {
            self.socket = socket; self.fd = socket.fd; self.id = id
            deadline = Date().addingTimeInterval(MetricsServer.requestTimeout)
        }
    }

    /// The port listened on (useful with port 0).
    public var port: UInt16 { listener.port }

    /// Binds `host:port` (throws if it cannot); `start()` begins serving.
    public init(host: String, port: UInt16, registry: MetricsRegistry, ready: @escaping @Sendable () -> Bool) throws {
        listener = try TCPListener(host: host, port: port, backlog: 16)
        self.registry = registry
        self.ready = ready
    }

    /// Serves requests on a background thread until `stop()`.
    public func start() {
        Thread { [self] in serve() }.start()
    }

    public func stop() {
        lock.withLock { stopped = true }
        listener.close()
    }

    private func serve() {
        var clients: [Client] = []
        var nextID = 0
        var fds: [pollfd] = []
        while !lock.withLock({ stopped }) {
            let now = Date()
            clients.removeAll { c in
                guard now >= c.deadline else { return false }
                c.socket.close()
                return true
            }
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0))
            for c in clients { fds.append(pollfd(fd: c.fd, events: Int16(c.answer == nil ? POLLIN : POLLOUT), revents: 0)) }
            guard poll(&fds, nfds_t(fds.count), 100) > 0 else { continue }
            var done: Set<Int> = []
            for (i, c) in clients.enumerated() where fds[i + 1].revents != 0 {
                if !step(c) { c.socket.close(); done.insert(c.id) }
            }
            clients.removeAll { done.contains($0.id) }
            guard fds[0].revents != 0 else { continue }
            for _ in 0..<Self.maxConnections {
                guard case let .accepted(socket, _) = listener.acceptNow() else { break }
                if clients.count >= Self.maxConnections { clients.removeFirst().socket.close() }
                clients.append(Client(socket: socket, id: nextID))
                nextID += 1
            }
        }
        for c in clients { c.socket.close() }
    }

    /// Moves `c` on without waiting: reads request bytes, or writes answer bytes. False once
    /// the connection is finished (answered, closed by the peer, or failed).
    private func step(_ c: Client) -> Bool {
        if c.answer == nil {
            var chunk = [UInt8](repeating: 0, count: 2048)
            let room = min(chunk.count, Self.maxRequestHead - c.head.count)
            let n = chunk.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress!, room, Int32(MSG_DONTWAIT)) }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return true }
            guard n > 0 else { return false }
            c.head += chunk[0..<n]
            let status: (String, String, String)
            if let end = Self.endOfHead(c.head) {
                status = respond(to: String(decoding: c.head[0..<end], as: UTF8.self))
            } else if c.head.count >= Self.maxRequestHead {
                status = ("400 Bad Request", "bad request: request head longer than \(Self.maxRequestHead) bytes\n", "text/plain; charset=utf-8")
            } else {
                return true
            }
            let (line, body, type) = status
            let bytes = Array(body.utf8)
            c.answer = Array("HTTP/1.1 \(line)\r\nContent-Type: \(type)\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n".utf8) + bytes
            c.deadline = Date().addingTimeInterval(Self.requestTimeout)
        }
        guard let answer = c.answer else { return true }
        while c.written < answer.count {
            let n = answer.withUnsafeBytes { send(c.fd, $0.baseAddress! + c.written, answer.count - c.written, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return true }
            guard n > 0 else { return false }
            c.written += n
        }
        return false
    }

    /// The length of the request head through its blank line ("\r\n\r\n" or "\n\n"), if it
    /// has arrived.
    static func endOfHead(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for i in 1..<bytes.count where bytes[i] == 10 {
            if bytes[i - 1] == 10 { return i + 1 }
            if i >= 3 && bytes[i - 1] == 13 && bytes[i - 2] == 10 && bytes[i - 3] == 13 { return i + 1 }
        }
        return nil
    }

    /// Status line, body and content type for a request head (exposed for tests).
    func respond(to head: String) -> (String, String, String) {
        let text = "text/plain; charset=utf-8"
        // "\r\n" is one Character in Swift, so split on any newline.
        let parts = head.split(maxSplits: 1, whereSeparator: \.isNewline).first.map { $0.split(separator: " ") } ?? []
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return ("400 Bad Request", "bad request line\n", text) }
        guard parts[0] == "GET" else { return ("405 Method Not Allowed", "only GET\n", text) }
        let path = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        switch path {
        case "/metrics": return ("200 OK", registry.render(), MetricsRegistry.contentType)
        case "/healthz": return ("200 OK", "ok\n", text)
        case "/readyz": return ready() ? ("200 OK", "ready\n", text) : ("503 Service Unavailable", "not ready\n", text)
        default: return ("404 Not Found", "not found: /metrics, /healthz, /readyz\n", text)
        }
    }
}
