import Foundation
import XCTest
import CohortTransport

/// A string written by a server thread and read by the test.
final class LockedString: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = "nothing"
    func set(_ v: String) { lock.lock(); stored = v; lock.unlock() }
    var value: String { lock.lock(); defer { lock.unlock() }; return stored }
}

/// Hands non-Sendable test fixtures to a server thread that is the only other user.
final class Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A value shared between test threads behind a lock.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
    func update<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&stored) }
}

/// Runs `body` on a new thread; the semaphore is signalled when it returns.
func spawn(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    Thread { body(); done.signal() }.start()
    return done
}

/// The path of a committed test fixture (certificates made by scripts/make-certs.sh).
func fixturePath(_ name: String) throws -> String {
    try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")).path
}

/// Makes connected stream pairs over loopback: plain TCP sockets, or TLS streams after both
/// handshakes (with the committed coordinator certificate and CA).
final class LoopbackPairs: @unchecked Sendable {
    let listener: TCPListener
    let serverContext: TLSContext?
    let clientContext: TLSContext?

    init(tls: Bool) throws {
        listener = try TCPListener(host: "127.0.0.1", port: 0)
        serverContext = tls ? try TLSContext.server(certificate: try fixturePath("coordinator.pem"), privateKey: try fixturePath("coordinator.key")) : nil
        clientContext = tls ? try TLSContext.client(trustedCA: try fixturePath("ca.pem")) : nil
    }

    /// One connected pair; the server side is accepted (and its handshake run) on another thread.
    func make() throws -> (client: ByteStream, server: ByteStream) {
        let (client, _, server) = try makeWithSocket()
        return (client, server)
    }

    /// Like `make`, also returning the client's TCP socket (under its TLS stream, if any).
    func makeWithSocket() throws -> (client: ByteStream, clientSocket: TCPSocket, server: ByteStream) {
        let accepted = Locked<Result<Unchecked<ByteStream>, any Error>?>(nil)
        let done = spawn { [self] in
            do {
                guard let socket = try listener.accept(timeout: 5) else { throw TransportError("no connection") }
                let stream: ByteStream = try serverContext.map { try TLSStream(socket: socket, context: $0, timeout: 5) } ?? socket
                accepted.value = .success(Unchecked(stream))
            } catch { accepted.value = .failure(error) }
        }
        let socket = try TCPSocket.connect(host: "127.0.0.1", port: listener.port, timeout: 5)
        let client: ByteStream = try clientContext.map { try TLSStream(socket: socket, context: $0, serverName: "127.0.0.1", timeout: 5) } ?? socket
        guard done.wait(timeout: .now() + 10) == .success, let result = accepted.value else { throw TransportError("server side did not finish") }
        return (client, socket, try result.get().value)
    }
}

/// This process's resident set size in bytes (from /proc/self/statm).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
