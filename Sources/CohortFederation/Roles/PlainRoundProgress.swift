import Foundation

/// What a plain (not secure) round has collected so far; part of `CoordinatorState`, so only
/// touched under the coordinator's `Mutex`. The fold is reached through it for the same reason.
struct PlainRoundProgress {
    /// Tells this round (attempt) from any other.
    let token: Int
    /// Folds the participants' updates in name order (`OrderedFold`).
    let fold: OrderedFold
    /// Whether updates are still taken.
    var open = true
    /// Why each participant's update was not used.
    var rejected: [String: RoundRejection] = [:]
    /// Metrics each node reported with its update (plus `samples`), as checked.
    var metrics: [String: [String: Double]] = [:]
    /// Metrics left out by `NodeMetricsCheck`, by node.
    var invalidMetrics: [String: [String]] = [:]
    var bytesUp = 0
    /// Participants whose exchange ended (well or not).
    var done = Set<String>()

    init(token: Int, fold: OrderedFold) {
        self.token = token
        self.fold = fold
    }
}

/// Why a participant's update was not used in a round: a typed reason, so nothing a peer sends
/// (an ERROR's text, say) decides how the coordinator treats it. `description` is what the
/// round record's `rejected` holds.
indirect enum RoundRejection: CustomStringConvertible {
    /// The exchange failed: the node's connection is dropped (it may reconnect).
    case failed(any Error)
    /// The update arrived after the round closed: the node did nothing wrong and stays connected.
    case late(RoundClosed)
    /// No update within the round timeout.
    case missedDeadline(seconds: Double)
    /// Sampled (Poisson sampling) but not connected.
    case notConnected
    /// The fold rejected the update (a whole-update strategy refused it), or cut it off after
    /// aggregating part of it; `after` is the exchange's own failure, if any.
    case fold(reason: String, after: RoundRejection?)
    /// The node claimed more samples than the secrets file expects and the plan rejects such
    /// updates (`ExpectedSampleCheck`); it keeps its connection.
    case overClaimed(ExpectedSampleCheck)

    /// Whether the node keeps its connection.
    var keepsSession: Bool {
        switch self {
        case .late, .overClaimed: return true
        default: return false
        }
    }

    var description: String {
        switch self {
        case .failed(let error): return "\(error)"
        case .late(let closed): return "\(closed)"
        case .missedDeadline(let seconds): return "no update within \(seconds) s"
        case .notConnected: return "sampled, not connected"
        case .fold(let reason, let after): return after.map { "\($0); \(reason)" } ?? reason
        case .overClaimed(let check): return "screening: \(check)"
        }
    }
}
