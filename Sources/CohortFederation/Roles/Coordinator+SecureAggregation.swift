import CohortCheckpoint
import CohortTensor
import CohortTransport
import Foundation

/// What secure rounds (`SecureRoundRunner`) and private rounds share with the coordinator: node
/// ids and the privacy accounting of a released round.
extension Coordinator {
    /// Secure-aggregation node ids: 1 + the position of the node's name among every node the
    /// coordinator knows (its secrets, sorted), so an id is stable across rounds and restarts.
    var secureAggregationIDs: [String: UInt32] {
        Dictionary(uniqueKeysWithValues: config.secrets.keys.sorted().enumerated().map { ($0.element, UInt32($0.offset + 1)) })
    }

    /// Under `plan.privacy`: steps the accountant for a released round, fills the record's
    /// privacy fields, and returns the log note (empty without privacy).
    func accountPrivacy(_ record: inout RoundRecord) -> String {
        guard let privacy = plan.privacy else { return "" }
        let q = Self.accountedSampleRate(privacy)
        accountant.step(noiseMultiplier: privacy.noiseMultiplier!, sampleRate: q)
        record.noiseMultiplier = privacy.noiseMultiplier
        record.sampleRate = q
        record.delta = privacy.delta
        record.epsilon = accountant.epsilon(delta: privacy.delta)
        return ", ε = \(Self.format(record.epsilon!)) at δ = \(privacy.delta)" + (privacy.targetEpsilon.map { " (budget \($0))" } ?? "")
    }
}

/// What one secure-aggregation step sends a node: a SECAGG_* frame, or the round's MODEL as a
/// streamed message.
enum SecureOutgoing {
    case frame(Frame)
    case message(StreamedMessage)

    /// Sends it; returns the bytes of message sent.
    func send(on conn: FramedConnection) throws -> Int {
        switch self {
        case .frame(let f):
            try conn.send(f)
            return f.payload.count
        case .message(let m):
            try conn.send(m, version: ProtocolVersion.current)
            return m.length
        }
    }
}
