import Foundation

/// What a secure-aggregation round has gathered, shared by the threads that talk to its nodes:
/// which nodes completed the open step, bytes each way, metrics and reasons for failures. Every
/// field is read and written under one lock (threads that outlive a step's wait may still
/// record a failure), so readers take a `snapshot`. The server's state machine is only touched
/// inside `complete`, under the lock, so messages are taken one at a time and never after their
/// step closed.
final class SecureRoundState: @unchecked Sendable {
    private let lock = NSLock()
    private var open = false
    private var completed = Set<String>()
    private var left = Set<String>()
    private var bytesUp = 0
    private var bytesDown = 0
    private var metrics: [String: [String: Double]] = [:]
    private var rejected: [String: String] = [:]

    /// A consistent copy of what the round gathered.
    struct Snapshot {
        var bytesUp: Int
        var bytesDown: Int
        /// Metrics the nodes reported with their masked input, by node.
        var metrics: [String: [String: Double]]
        /// Why each node that left the round left it.
        var rejected: [String: String]
        /// Nodes that left the round by saying so (SECAGG_LEAVE): they stay connected.
        var left: Set<String>
    }

    /// Opens a step: nothing completed yet.
    func begin() { lock.withLock { open = true; completed = [] } }

    func sent(_ bytes: Int) { lock.withLock { bytesDown += bytes } }

    /// Takes a node's reply: runs `body` (parse, check, hand to the server) if the step is still
    /// open, then counts the node as having completed it. `body` may return metrics to keep.
    func complete(_ name: String, bytes: Int, _ body: () throws -> [String: Double]?) throws {
        try lock.withLock {
            guard open else { throw AggregationError("arrived after the step closed") }
            bytesUp += bytes
            if let m = try body() { metrics[name] = m }
            completed.insert(name)
        }
    }

    /// Records why a node left the round (the first reason only).
    func fail(_ name: String, _ reason: String) { lock.withLock { if rejected[name] == nil { rejected[name] = reason } } }

    /// Records that a node left the round on its own (SECAGG_LEAVE), with its reason.
    func leave(_ name: String, _ reason: String) {
        lock.withLock {
            left.insert(name)
            if rejected[name] == nil { rejected[name] = reason }
        }
    }

    /// Closes the step; returns the nodes that completed it.
    func close() -> Set<String> { lock.withLock { open = false; return completed } }

    /// Everything gathered so far, read under the lock.
    func snapshot() -> Snapshot {
        lock.withLock { Snapshot(bytesUp: bytesUp, bytesDown: bytesDown, metrics: metrics, rejected: rejected, left: left) }
    }
}
