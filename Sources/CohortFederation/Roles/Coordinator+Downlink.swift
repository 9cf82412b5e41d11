import CohortTensor
import CohortTransport
import Foundation

extension Coordinator {
    /// The MODEL or EVALUATE message for `session`: the tensors changed since the version the
    /// node last acknowledged (an UPDATE or masked input for that version), or the whole model
    /// (see `DownlinkTracker.changed`). `cache` holds the messages built so far, by base
    /// version, so nodes at the same version share one.
    func modelMessage(_ type: MessageType, header: RoundMessages.ModelHeader, for session: Session,
                      cache: inout [Int: StreamedMessage]) throws -> (message: StreamedMessage, delta: Bool) {
        let acknowledged = state.withLock { $0.acknowledged[session.serial] }
        guard let changed = downlink.changed(after: acknowledged, current: version), let base = acknowledged else {
            return (try modelMessage(type, header: header, base: nil, weights: global, cache: &cache), false)
        }
        return (try modelMessage(type, header: header, base: base, weights: global.filter { changed.contains($0.name) }, cache: &cache), true)
    }

    private func modelMessage(_ type: MessageType, header: RoundMessages.ModelHeader, base: Int?, weights: [(name: String, value: Tensor)],
                              cache: inout [Int: StreamedMessage]) throws -> StreamedMessage {
        let key = base ?? -1
        if header.secureAggregation == nil, let m = cache[key] { return m }
        var header = header
        header.baseVersion = base
        header.modelDigest = downlink.digest(of: global, version: version)
        let message = try RoundMessages.modelMessage(type, header: header, weights: weights)
        if header.secureAggregation == nil { cache[key] = message }
        return message
    }

    /// `session`'s node holds global version `version` (it answered a MODEL of that version).
    func acknowledge(_ session: Session, version: Int) {
        state.withLock { $0.acknowledge(session, version: version) }
    }

    /// Replaces the global model with the next version and notes which tensors changed.
    func advanceGlobal(to next: [(name: String, value: Tensor)]) {
        let previous = global
        global = next
        version += 1
        downlink.advance(from: previous, to: next, version: version)
    }
}
