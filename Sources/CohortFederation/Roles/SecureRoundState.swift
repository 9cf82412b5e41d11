import Foundation

/// What a secure-aggregation round has gathered, shared by the threads that talk to its nodes:
/// which nodes completed the open step, bytes each way, metrics and reasons for failures. The
/// server's state machine is only touched inside `complete`, under the lock, so messages are
/// taken one at a time and never after their step closed.
final class SecureRoundState: @unchecked Sendable {
    private let lock = NSLock()
    private var open = false
    private var completed = Set<String>()
    private(set) var bytesUp = 0
    private(set) var bytesDown = 0
    /// Metrics of the received model, by node (from the masked-input message).
    var metrics: [String: [String: Double]] = [:]
    private(set) var rejected: [String: String] = [:]

    /// Opens a step: nothing completed yet.
    func begin() { lock.withLock { open = true; completed = [] } }

    func sent(_ bytes: Int) { lock.withLock { bytesDown += bytes } }

    /// Takes a node's reply: runs `body` (parse, check, hand to the server) if the step is still
    /// open, then counts the node as having completed it.
    func complete(_ name: String, bytes: Int, _ body: () throws -> Void) throws {
        try lock.withLock {
            guard open else { throw AggregationError("arrived after the step closed") }
            bytesUp += bytes
            try body()
            completed.insert(name)
        }
    }

    /// Records why a node left the round (the first reason only).
    func fail(_ name: String, _ reason: String) { lock.withLock { if rejected[name] == nil { rejected[name] = reason } } }

    /// Closes the step; returns the nodes that completed it.
    func close() -> Set<String> { lock.withLock { open = false; return completed } }
}
