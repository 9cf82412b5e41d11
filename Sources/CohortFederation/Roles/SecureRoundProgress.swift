import Foundation

/// What a secure-aggregation attempt has gathered, shared by the threads that talk to its
/// nodes: which nodes completed the open step, bytes each way, metrics and reasons for
/// failures. Part of `CoordinatorState`, so only touched under the coordinator's `Mutex`
/// (threads that outlive a step's wait may still record a failure; they find the attempt by
/// its session number). The server's state machine is only touched inside `complete`, under
/// the same lock, so messages are taken one at a time and never after their step closed.
struct SecureRoundProgress {
    /// The attempt's secure-aggregation session number.
    let session: UInt64
    private var open = false
    private var completed = Set<String>()
    private(set) var left = Set<String>()
    private(set) var bytesUp = 0
    private(set) var bytesDown = 0
    /// Metrics the nodes reported with their masked input, by node.
    private(set) var metrics: [String: [String: Double]] = [:]
    /// Why each node that left the round left it.
    private(set) var rejected: [String: String] = [:]
    /// The typed reason of each node whose exchange failed (for `NodeDrop`).
    private(set) var dropReasons: [String: NodeDrop.Reason] = [:]

    init(session: UInt64) { self.session = session }

    /// Opens a step: nothing completed yet.
    mutating func begin() { open = true; completed = [] }

    mutating func sent(_ bytes: Int) { bytesDown += bytes }

    /// Takes a node's reply: runs `body` (parse, check, hand to the server) if the step is still
    /// open, then counts the node as having completed it. `body` may return metrics to keep.
    mutating func complete(_ name: String, bytes: Int, _ body: () throws -> [String: Double]?) throws {
        guard open else { throw StepClosed() }
        bytesUp += bytes
        if let m = try body() { metrics[name] = m }
        completed.insert(name)
    }

    /// Records why a node left the round (the first reason only).
    mutating func fail(_ name: String, _ reason: String, kind: NodeDrop.Reason = .missedDeadline) {
        guard rejected[name] == nil else { return }
        rejected[name] = reason
        dropReasons[name] = kind
    }

    /// Records that a node left the round on its own (SECAGG_LEAVE), with its reason.
    mutating func leave(_ name: String, _ reason: String) {
        left.insert(name)
        if rejected[name] == nil { rejected[name] = reason }
    }

    /// Closes the step; returns the nodes that completed it.
    mutating func close() -> Set<String> { open = false; return completed }

    /// A reply that arrived after its step closed.
    struct StepClosed: Error, CustomStringConvertible {
        var description: String { "arrived after the step closed" }
    }
}
