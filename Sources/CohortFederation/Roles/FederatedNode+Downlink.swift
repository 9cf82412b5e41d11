import CohortCheckpoint
import CohortTensor
import CohortTransport

extension FederatedNode {
    /// The largest parameter magnitude a node accepts in a global model (its "budget"): no
    /// trained network has a weight near it, and a model beyond it overflows in training.
    /// BatchNorm running statistics are only checked for finiteness (raw features can have a
    /// large variance).
    public static let maxGlobalMagnitude: Float = 1e6

    /// The whole global model of a MODEL or EVALUATE message, rebuilt from its body (a delta
    /// is applied to the copy this node holds) and checked against the header's digest. When it
    /// cannot be rebuilt (no copy the delta applies to, or a digest mismatch), the node tells
    /// the coordinator with ERROR and reconnects: a new session gets the whole model, and the
    /// node never trains on weights that are not the coordinator's.
    ///
    /// A model that does not decode or is not fit to train on (`BadGlobalModel`: a body the
    /// decoder refuses, such as a NaN or infinity; a parameter beyond `maxGlobalMagnitude`) is reported to the coordinator with ERROR
    /// and ends the run with that typed error: the coordinator's aggregate is at fault.
    func globalWeights(_ header: RoundMessages.ModelHeader, body: [UInt8], conn: FramedConnection, log: (String) -> Void) throws -> [String: Tensor] {
        let model = try modelObject(for: header)
        let shapes = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.value.shape) })
        do {
            let weights: [String: Tensor]
            do { weights = try receivedGlobal.apply(header, body: body, shapes: shapes) } catch let error as DeltaDecodeError {
                throw BadGlobalModel(round: header.round, modelVersion: header.modelVersion, tensor: error.tensor, fault: .undecodable(error))
            }
            try BadGlobalModel.check(weights, parameters: Set(model.parameters.map(\.name)), bound: Self.maxGlobalMagnitude,
                                     round: header.round, modelVersion: header.modelVersion)
            return weights
        } catch let bad as BadGlobalModel {
            receivedGlobal.forget()
            log("\(config.name): \(bad); reporting it to the coordinator and stopping")
            _ = Handshake.refuse(conn, "node '\(config.name)': \(bad)")
            throw bad
        } catch let mismatch as ReceivedGlobal.Mismatch {
            let message = "node '\(config.name)' cannot use the model of round \(header.round): \(mismatch); reconnecting for the whole model"
            log("\(config.name): \(message)")
            _ = Handshake.refuse(conn, message)
            throw SessionLost(reason: message)
        }
    }
}
