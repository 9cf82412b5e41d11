import CohortCheckpoint
import CohortNN
import CohortTensor
import CohortTransport

extension FederatedNode {
    /// The largest parameter magnitude a node accepts in a global model (its "budget"): no
    /// trained network has a weight near it, and a model beyond it overflows in training.
    /// BatchNorm running statistics are only checked for finiteness (raw features can have a
    /// large variance).
    public static let maxGlobalMagnitude: Float = 1e6

    /// The header and whole global model of a streamed MODEL or EVALUATE message whose start
    /// frame is `start`, decoded as its chunks arrive straight into the tensors' storage (a
    /// delta is applied to the copy this node holds) and checked against the header's digest.
    /// No whole message or body is held. `policy`: check the node's policy and preprocessing
    /// as soon as the header is in (a MODEL), before the model object is made.
    ///
    /// When the model cannot be rebuilt (no copy the delta applies to, or a digest mismatch),
    /// the node tells the coordinator with ERROR and reconnects: a new session gets the whole
    /// model, and the node never trains on weights that are not the coordinator's. A model that
    /// does not decode or is not fit to train on (`BadGlobalModel`: a body the decoder refuses,
    /// such as a NaN or infinity or a truncated body; a parameter beyond `maxGlobalMagnitude`)
    /// is reported to the coordinator with ERROR and ends the run with that typed error: the
    /// coordinator's aggregate is at fault. A transport failure is a lost session.
    func receiveGlobal(_ start: Frame, conn: FramedConnection, policy: Bool, log: (String) -> Void) throws
        -> (header: RoundMessages.ModelHeader, weights: [String: Tensor])
    {
        try withoutActuallyEscaping(log) { log in try receiveGlobal(start, conn: conn, policy: policy, escapingLog: log) }
    }

    private func receiveGlobal(_ start: Frame, conn: FramedConnection, policy: Bool, escapingLog log: @escaping (String) -> Void) throws
        -> (header: RoundMessages.ModelHeader, weights: [String: Tensor])
    {
        let length = Int(try StreamedMessage.announcedLength(start))
        var model: Sequential?
        var completed = false
        var assembly: ModelAssembly?
        var seenHeader: RoundMessages.ModelHeader?
        defer { if assembly != nil && !completed { self.model = nil } }   // tensors may have been taken out of it
        let reader = RoundMessageReader<RoundMessages.ModelHeader>(length: length) { [self] header, bodyLength in
            seenHeader = header
            if policy {
                try enforcePolicy(header, conn: conn, log: log)
                try checkPreprocessing(header.plan)
            }
            stageClock?.mark("MODEL header received")
            let m = try modelObject(for: header)
            stageClock?.mark("architecture build (the model object)")
            model = m
            let shapes = Dictionary(uniqueKeysWithValues: m.stateDict().map { ($0.name, $0.value.shape) })
            let a = try receivedGlobal.begin(header, shapes: shapes, slots: ModelAssembly.modelSlots(m))
            a.onRecordStart = { [unowned self] name in receivedGlobal.release(name) }
            assembly = a
            return ReceivedGlobal.decoder(header, shapes: shapes, bodyLength: bodyLength)
        }
        do {
            do {
                try conn.receiveStreamed(start, budget: config.maxModelBytes, timeout: config.timeout) { chunk in
                    do {
                        try reader.feed(chunk, piecewise: true, pieces: { try assembly?.take($0) }) { try assembly?.take($0) }
                    } catch { throw Decoding(error: error) }
                }
            } catch let error as TransportError {
                receivedGlobal.forget()   // a delta may have released part of the copy
                throw SessionLost(reason: "\(error)")
            } catch let decoding as Decoding {
                throw decoding.error
            }
            let header = try reader.finish()
            completed = true
            guard let model, let assembly else { throw AggregationError("the MODEL ended before its body") }
            let weights = try receivedGlobal.finish(header, assembly)
            try BadGlobalModel.check(weights, parameters: Set(model.parameters.map(\.name)), bound: Self.maxGlobalMagnitude,
                                     round: header.round, modelVersion: header.modelVersion)
            return (header, weights)
        } catch let error as DeltaDecodeError {
            let bad = BadGlobalModel(round: seenHeader?.round ?? -1, modelVersion: seenHeader?.modelVersion ?? -1, tensor: error.tensor,
                                     fault: .undecodable(error))
            try report(bad, conn: conn, log: log)
        } catch let bad as BadGlobalModel {
            try report(bad, conn: conn, log: log)
        } catch let mismatch as ReceivedGlobal.Mismatch {
            receivedGlobal.forget()
            let message = "node '\(config.name)' cannot use the model of round \(seenHeader?.round ?? -1): \(mismatch); reconnecting for the whole model"
            log("\(config.name): \(message)")
            _ = Handshake.refuse(conn, message)
            throw SessionLost(reason: message)
        }
    }

    /// Reports a global model unfit to train on to the coordinator and ends the run with it.
    private func report(_ bad: BadGlobalModel, conn: FramedConnection, log: (String) -> Void) throws -> Never {
        receivedGlobal.forget()
        log("\(config.name): \(bad); reporting it to the coordinator and stopping")
        _ = Handshake.refuse(conn, "node '\(config.name)': \(bad)")
        throw bad
    }

    /// An error of the message's decoding (not of the transport), carried out of the chunk loop.
    private struct Decoding: Error { let error: any Error }
}
