/// Why a secure-aggregation round cannot go on. Before the survivors are announced the attempt
/// is abandoned: nothing about any node's input has been revealed, and the next attempt starts
/// afresh with new keys. At unmasking (after the release point) the round ends unapplied.
public enum SecureAggregationError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Fewer than t nodes remain at a step (`stage` names it).
    case belowThreshold(stage: String, nodes: Int, threshold: Int)
    /// The shares revealed for `node` do not rebuild its committed seed or advertised key.
    case badShares(node: UInt32, reason: String)
    /// A message that does not fit the protocol: wrong step, unknown or repeated node, wrong
    /// length, a bundle that fails authentication, …
    case invalidMessage(String)
    /// The consistency round failed: fewer than t valid signatures on the survivor set this
    /// node was shown (a coordinator that shows nodes different sets, or forged signatures).
    /// The node reveals nothing.
    case inconsistentSurvivors(String)

    public var description: String {
        switch self {
        case let .belowThreshold(stage, nodes, threshold):
            return "secure aggregation: \(nodes) nodes at \(stage), fewer than the threshold \(threshold); the round is abandoned and nothing is revealed"
        case let .badShares(node, reason):
            return "secure aggregation: the shares for node \(node) are wrong (\(reason)); the round is abandoned"
        case let .invalidMessage(text):
            return "secure aggregation: \(text)"
        case let .inconsistentSurvivors(text):
            return "secure aggregation: consistency check failed: \(text); revealing nothing"
        }
    }
}
