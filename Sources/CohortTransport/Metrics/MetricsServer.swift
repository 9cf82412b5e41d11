import Foundation

/// A minimal HTTP/1.x endpoint for monitoring: `GET /metrics` (the registry in Prometheus text
/// format), `GET /healthz` (200 while the process serves) and `GET /readyz` (200 once `ready`
/// says so, else 503). One connection at a time on its own thread; each request must arrive
/// within 2 s and its head within 8 KiB, and the connection is closed after the answer, so a
/// stuck or hostile client costs at most 2 s of the endpoint and nothing of the federation.
public final class MetricsServer: @unchecked Sendable {
    private let listener: TCPListener
    private let registry: MetricsRegistry
    private let ready: @Sendable () -> Bool
    private let lock = NSLock()
    private var stopped = false
    static let maxRequestHead = 8 << 10
    static let requestTimeout = 2.0

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
        Thread { [self] in
            while !lock.withLock({ stopped }) {
                guard let socket = try? listener.accept(timeout: 0.5) else { continue }
                serve(socket)
            }
        }.start()
    }

    public func stop() {
        lock.withLock { stopped = true }
        listener.close()
    }

    private func serve(_ socket: TCPSocket) {
        defer { socket.close() }
        let (status, body, type): (String, String, String)
        do {
            let head = try readHead(socket)
            (status, body, type) = respond(to: head)
        } catch {
            (status, body, type) = ("400 Bad Request", "bad request: \(error)\n", "text/plain; charset=utf-8")
        }
        let bytes = Array(body.utf8)
        let response = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
        try? socket.write(Array(response.utf8) + bytes, timeout: Self.requestTimeout)
    }

    /// The request line and headers, up to the blank line.
    private func readHead(_ socket: TCPSocket) throws -> String {
        let deadline = Date().addingTimeInterval(Self.requestTimeout)
        var head: [UInt8] = []
        while !(head.count >= 4 && head.suffix(4).elementsEqual([13, 10, 13, 10])) && !(head.count >= 2 && head.suffix(2).elementsEqual([10, 10])) {
            guard head.count < Self.maxRequestHead else { throw MetricsError("request head longer than \(Self.maxRequestHead) bytes") }
            head += try socket.read(exactly: 1, deadline: deadline, timeout: Self.requestTimeout)
        }
        return String(decoding: head, as: UTF8.self)
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
