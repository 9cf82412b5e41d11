import CohortTensor
import CohortTransport

extension FederatedNode {
    /// The whole global model of a MODEL or EVALUATE message, rebuilt from its body (a delta
    /// is applied to the copy this node holds) and checked against the header's digest. When it
    /// cannot be rebuilt (no copy the delta applies to, or a digest mismatch), the node tells
    /// the coordinator with ERROR and reconnects: a new session gets the whole model, and the
    /// node never trains on weights that are not the coordinator's.
    func globalWeights(_ header: RoundMessages.ModelHeader, body: [UInt8], conn: FramedConnection, log: (String) -> Void) throws -> [String: Tensor] {
        let shapes = Dictionary(uniqueKeysWithValues: try modelObject(for: header).stateDict().map { ($0.name, $0.value.shape) })
        do {
            return try receivedGlobal.apply(header, body: body, shapes: shapes)
        } catch let mismatch as ReceivedGlobal.Mismatch {
            let message = "node '\(config.name)' cannot use the model of round \(header.round): \(mismatch); reconnecting for the whole model"
            log("\(config.name): \(message)")
            _ = Handshake.refuse(conn, message)
            throw SessionLost(reason: message)
        }
    }
}
