import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A socket descriptor that any thread may close while others use it.
///
/// `close()` only shuts the socket down (which wakes a thread waiting in `poll` and makes its
/// next read or write fail) and marks it closed; further `use` calls throw. The descriptor
/// itself is closed exactly once, by whichever comes last of `close()` and the last `use` call
/// still running, so its number cannot be handed to another file while a call holds it.
final class SocketDescriptor: @unchecked Sendable {
    private let lock = NSLock()
    private let fd: Int32
    private var closing = false
    private var released = false
    private var users = 0

    init(_ fd: Int32) {
        self.fd = fd
    }

    deinit {
        if !released { Glibc.close(fd) }
    }

    /// The descriptor, or −1 once closing.
    var current: Int32 { lock.withLock { closing ? -1 : fd } }

    /// True once `close()` has been called.
    var isClosed: Bool { lock.withLock { closing } }

    /// Runs `body` with the descriptor, which stays open until `body` returns; throws
    /// `closedError` without calling `body` once `close()` has been called.
    func use<R>(orThrow closedError: @autoclosure () -> TransportError, _ body: (Int32) throws -> R) throws -> R {
        lock.lock()
        guard !closing else { lock.unlock(); throw closedError() }
        users += 1
        lock.unlock()
        defer {
            lock.lock()
            users -= 1
            let release = closing && users == 0 && !released
            if release { released = true }
            lock.unlock()
            if release { Glibc.close(fd) }
        }
        return try body(fd)
    }

    /// Shuts the socket down and marks it closed (idempotent); closes the descriptor now if no
    /// call is using it, else when the last one returns.
    func close() {
        lock.lock()
        guard !closing else { lock.unlock(); return }
        closing = true
        _ = shutdown(fd, Int32(SHUT_RDWR))
        let release = users == 0
        if release { released = true }
        lock.unlock()
        if release { Glibc.close(fd) }
    }
}
