import Foundation

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
