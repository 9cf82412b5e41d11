import CohortTransport
import Foundation

/// A node whose connection the coordinator lost or dropped during a run: which, in which round,
/// when and why. Round records list the drops seen since the previous record (`dropped`), and
/// `evaluation.json` lists every drop of the run.
public struct NodeDrop: Codable, Sendable, Equatable {
    /// Why the node left, as a typed case (its text is in `detail`).
    public enum Reason: String, Codable, Sendable {
        /// Its connection ended from its side (end of stream, reset): the process died or hung up.
        case connectionClosed = "connection-closed"
        /// It sent nothing within the round timeout.
        case missedDeadline = "missed-deadline"
        /// A read or write timed out mid-exchange.
        case timedOut = "timed-out"
        /// It broke the protocol (malformed, out-of-round or refused message).
        case protocolError = "protocol-error"
        /// The heartbeat could not reach it between rounds.
        case unreachable
    }

    /// The node's name.
    public var node: String
    /// The round being run when it was dropped (between rounds: the next one).
    public var round: Int
    /// When (Unix time, seconds).
    public var at: Double
    public var reason: Reason
    /// The error, as text, for people.
    public var detail: String

    public init(node: String, round: Int, at: Double, reason: Reason, detail: String) {
        self.node = node; self.round = round; self.at = at; self.reason = reason; self.detail = detail
    }

    /// The reason an exchange that failed with `error` gives: typed transport failures are
    /// told apart by their `kind`, everything else is the peer breaking the protocol.
    static func reason(for error: any Error) -> Reason {
        guard let transport = error as? TransportError else { return .protocolError }
        switch transport.kind {
        case .closedByPeer, .closedLocally: return .connectionClosed
        case .timedOut: return .timedOut
        case .other: return .protocolError
        }
    }
}
