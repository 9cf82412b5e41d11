import CohortTransport
import Foundation

/// The coordinator's wire stages of `cohort bench large-model` (issue 19): a MODEL sent over
/// loopback to a reader that checks its frames and drops the bytes (the send path alone, with
/// no node decoding behind it), and the coordinator's own per-stage timings read back from its
/// log after the real round.
extension LargeModelBenchmark {
    /// Sends `message` over a fresh loopback connection (plain TCP, or TLS 1.3 with the
    /// certificates in `certs`) to a reader on another thread that receives it as a node does
    /// (`receiveStreamed`: every frame's CRC checked, chunks in order) and drops the data.
    /// Returns the seconds from the first byte sent to the last byte received.
    static func loopbackSend(_ message: StreamedMessage, tls: Bool, certs: String) throws -> Double {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let serverContext = tls ? try TLSContext.server(certificate: certs + "/coordinator.pem", privateKey: certs + "/coordinator.key") : nil
        let clientContext = tls ? try TLSContext.client(trustedCA: certs + "/ca.pem") : nil
        let outcome = LockedOutcome()
        let done = DispatchSemaphore(value: 0)
        let port = listener.port
        Thread {
            defer { done.signal() }
            do {
                let socket = try TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 10)
                let stream: ByteStream = try clientContext.map { try TLSStream(socket: socket, context: $0, serverName: "127.0.0.1", timeout: 10) } ?? socket
                let conn = FramedConnection(stream: stream)
                defer { conn.close() }
                let start = try conn.receive(timeout: 60)
                let n = try conn.receiveStreamed(start, budget: .max, timeout: 60) { _ in }
                outcome.set(.success(n))
            } catch { outcome.set(.failure(error)) }
        }.start()
        guard let socket = try listener.accept(timeout: 10) else { throw BenchError("loopback send: no connection") }
        let stream: ByteStream = try serverContext.map { try TLSStream(socket: socket, context: $0, timeout: 10) } ?? socket
        let conn = FramedConnection(stream: stream, writeTimeout: 60)
        defer { conn.close() }
        let began = BenchTiming.now()
        try conn.send(message, version: ProtocolVersion.current)
        done.wait()
        let seconds = BenchTiming.now() - began
        let received = try outcome.get()
        guard received == message.length else { throw BenchError("loopback send: \(received) of \(message.length) bytes arrived") }
        return seconds
    }

    /// The coordinator's per-stage timings of the real round, from its log: each MODEL sent
    /// (per node), each UPDATE received, checked and folded (per node, from its first byte),
    /// the strategy's finish, and the journal's global checkpoint write.
    static func coordinatorStages(log: String) -> [Stage] {
        var stages: [Stage] = []
        for line in log.split(separator: "\n") {
            let text = String(line)
            let name: String
            if text.contains(": MODEL to '"), text.contains(" sent in ") {
                name = "coordinator: MODEL sent to " + between(text, "MODEL to '", "'")
            } else if text.contains(": UPDATE of '"), text.contains(" received, checked and folded in ") {
                name = "coordinator: UPDATE received, checked and folded from " + between(text, "UPDATE of '", "'")
            } else if text.contains(" journaled: global.ckpt") {
                name = "coordinator: journal write (global checkpoint, behind the next round)"
            } else if text.contains(": MODELs prepared in ") {
                name = "coordinator: MODELs prepared (strategy begin, norm bound, digest, chunk checksums)"
            } else if text.contains(": aggregate finished in ") {
                name = "coordinator: strategy finish (aggregate + new global)"
            } else {
                continue
            }
            guard let bytes = Int(between(text, "(", " bytes")), let seconds = Double(between(text, " in ", " s")) else { continue }
            stages.append(Stage(name: name, seconds: seconds, bytes: bytes, gigabytesPerSecond: Double(bytes) / max(seconds, 1e-9) / 1e9))
        }
        return stages
    }

    /// The text of `line` between the first `open` and the next `close` after it ("" if absent).
    private static func between(_ line: String, _ open: String, _ close: String) -> String {
        guard let a = line.range(of: open), let b = line.range(of: close, range: a.upperBound..<line.endIndex) else { return "" }
        return String(line[a.upperBound..<b.lowerBound])
    }
}

/// The reader thread's outcome.
private final class LockedOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Int, any Error> = .failure(BenchError("loopback send: the reader did not finish"))
    func set(_ r: Result<Int, any Error>) { lock.withLock { result = r } }
    func get() throws -> Int { try lock.withLock { result }.get() }
}

extension LargeModelBenchmark {
    /// Times `message` sent over loopback to a discarding reader, plain TCP and (with `tls`)
    /// TLS 1.3, as stages.
    static func wireSendStages(_ message: StreamedMessage, tls: Bool, certs: String, stages: inout [Stage],
                               progress: (String) -> Void) throws {
        if tls { try BenchCertificates.make(in: certs) }
        for overTLS in tls ? [false, true] : [false] {
            let seconds = try loopbackSend(message, tls: overTLS, certs: certs)
            let name = "MODEL sent over loopback \(overTLS ? "TLS 1.3" : "TCP") to a reader that checks its frames (no decode)"
            stages.append(Stage(name: name, seconds: seconds, bytes: message.length, gigabytesPerSecond: Double(message.length) / seconds / 1e9))
            progress(String(format: "large-model: %@ %.3f s (%.2f GB/s)", name, seconds, Double(message.length) / seconds / 1e9))
        }
    }
}
