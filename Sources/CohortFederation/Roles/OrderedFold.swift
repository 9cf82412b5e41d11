import CohortCheckpoint

/// Folds a round's updates into a strategy in a fixed order (the participants' name order)
/// whatever order they arrive in, so floating-point sums do not depend on network timing and a
/// resumed run reproduces an uninterrupted one. Used only under the coordinator's lock.
///
/// Updates arrive as checked tensor records (`DeltaRecord`, still in wire encoding), one at a
/// time as their bytes come in. The participant whose turn it is (every earlier one has been
/// folded or has failed) has its records folded as they arrive, so its update is never held
/// whole. Records of later participants wait, in wire encoding, within `bufferBudget` bytes;
/// a participant over the budget is held back before reading more (`mayRead`), which stalls its
/// sender through TCP flow control until its turn or until memory frees up. When several
/// participants' updates are complete in a row they are folded together, one pass per tensor
/// (`DeltaFold`), which gives the same bits as folding them one by one.
///
/// A record is the unit of commitment: an update cut off after some records (connection lost,
/// a later record malformed) keeps the records already folded, each in its tensor's mean with
/// the node's weight (strategies keep one total weight per tensor), and is reported as rejected
/// with the count. Strategies that need whole updates (`recordFolding` nil: robust statistics,
/// DP clipping) get each update decoded and whole, once complete; a cut-off one is dropped.
final class OrderedFold: @unchecked Sendable {
    private struct Part {
        var records: [DeltaRecord] = []
        /// Message bytes received and not yet folded, plus reservations for chunks being read.
        var heldBytes = 0
        var complete = false
        var foldedRecords = 0
    }

    private let order: [String]
    private let weights: [String: Double]
    private let strategy: AggregationStrategy
    private let folder: RecordFolding?
    /// Bytes that may be held for participants whose turn has not come.
    let bufferBudget: Int
    private var next = 0
    private var parts: [String: Part] = [:]
    private var failed = Set<String>()
    private var heldTotal = 0
    private(set) var closed = false
    /// Updates folded whole, in order.
    private(set) var folded: [String] = []
    private var foldedNames = Set<String>()
    /// Participants rejected by the strategy or cut off, with the reason.
    private(set) var rejected: [String: String] = [:]

    /// A fold of `participants` (in this order) weighted by their sample counts.
    init(participants: [String], samples: [String: Int], strategy: AggregationStrategy, bufferBudget: Int = .max) {
        order = participants
        weights = samples.mapValues(Double.init)
        self.strategy = strategy
        folder = strategy.recordFolding
        self.bufferBudget = bufferBudget
    }

    /// Bytes held for later participants (records and reservations).
    var heldBytes: Int { heldTotal }

    /// Whether `name`'s turn has come (every earlier participant folded or failed).
    func isInTurn(_ name: String) -> Bool { next < order.count && order[next] == name }

    /// Whether `name` may read its next `bytes` now, and how many bytes that reserves: nil
    /// while it must wait; 0 on its turn (nothing is held for it) or once it cannot be folded
    /// any more; `bytes` when they fit in the budget.
    func reserve(_ name: String, bytes: Int) -> Int? {
        if closed || failed.contains(name) || (isInTurn(name) && folder != nil) { return 0 }
        guard heldTotal + bytes <= bufferBudget || isInTurn(name) else { return nil }
        parts[name, default: Part()].heldBytes += bytes
        heldTotal += bytes
        return bytes
    }

    /// The chunk `reserve` reserved `reserved` bytes for has been read and its records
    /// offered: `received` message bytes stay held until they are folded.
    func read(_ name: String, reserved: Int, received: Int) {
        // Nothing to adjust once the part was folded or dropped (its bytes were released).
        guard reserved > 0, !closed, !failed.contains(name), !foldedNames.contains(name), !(isInTurn(name) && folder != nil) else { return }
        parts[name, default: Part()].heldBytes += received - reserved
        heldTotal += received - reserved
    }

    /// Takes one checked record of `name`'s update; folds whatever is now in order.
    func offer(_ name: String, record: DeltaRecord) throws {
        guard !closed else { throw AggregationError("arrived after the round closed") }
        guard let weight = weights[name] else { throw AggregationError("'\(name)' is not a participant of this round") }
        guard weight > 0 else { throw AggregationError("update with \(Int(weight)) samples: the sample count must be positive") }
        guard !failed.contains(name) else { return }
        parts[name, default: Part()].records.append(record.owned())
        drain()
    }

    /// `name`'s update has ended well (every record offered).
    func complete(_ name: String) throws {
        guard !closed else { throw AggregationError("arrived after the round closed") }
        guard !failed.contains(name) else { return }
        parts[name, default: Part()].complete = true
        drain()
    }

    /// Marks a participant as having no (further) update this round.
    func fail(_ name: String) {
        guard !closed, !failed.contains(name), !foldedNames.contains(name) else { return }
        failed.insert(name)
        if let part = parts[name], part.foldedRecords > 0, rejected[name] == nil {
            rejected[name] = "cut off after \(part.foldedRecords) tensor record(s), which were aggregated"
        }
        release(name)
        drain()
    }

    /// Folds everything complete and still waiting, in order, skipping the rest; no update
    /// is taken after this.
    func close() {
        for name in order[next...] where !(parts[name]?.complete ?? false) { fail(name) }
        drain()
        closed = true
    }

    private func markFolded(_ name: String) {
        folded.append(name)
        foldedNames.insert(name)
    }

    private func release(_ name: String) {
        guard var part = parts[name] else { return }
        heldTotal -= part.heldBytes
        part.heldBytes = 0
        part.records = []
        parts[name] = part
    }

    private func drain() {
        while next < order.count {
            let name = order[next]
            if failed.contains(name) { next += 1; continue }
            guard let part = parts[name] else { return }
            guard part.complete else {
                // Its turn, still arriving: fold what it has sent so far (whole-update
                // strategies keep gathering it).
                if folder != nil {
                    foldRecords(of: [name])
                    release(name)
                }
                return
            }
            var run = [name]
            var j = next + 1
            while j < order.count {
                if failed.contains(order[j]) { j += 1; continue }
                guard parts[order[j]]?.complete == true else { break }
                run.append(order[j])
                j += 1
            }
            if folder != nil {
                foldRecords(of: run)
                for n in run { folder!.countUpdate(); markFolded(n) }
            } else {
                for n in run { accumulateWhole(n) }
            }
            for n in run { release(n) }
            next = j
        }
    }

    /// Folds the waiting records of `names` (in that order), one batch per tensor.
    private func foldRecords(of names: [String]) {
        var byTensor: [String: (records: [DeltaRecord], weights: [Double])] = [:]
        var tensorOrder: [String] = []
        for name in names {
            guard var part = parts[name] else { continue }
            for record in part.records {
                if byTensor[record.name] == nil { tensorOrder.append(record.name) }
                byTensor[record.name, default: ([], [])].records.append(record)
                byTensor[record.name]!.weights.append(weights[name]!)
            }
            part.foldedRecords += part.records.count
            part.records = []
            parts[name] = part
        }
        for tensor in tensorOrder { folder!.fold(tensor: tensor, records: byTensor[tensor]!.records, weights: byTensor[tensor]!.weights) }
    }

    /// Decodes a complete update and hands it to a strategy that takes whole updates.
    private func accumulateWhole(_ name: String) {
        do {
            let records = parts[name]?.records ?? []
            let delta = try ModelDelta(records.map { ($0.name, $0.decoded()) })
            try strategy.accumulate(delta, samples: Int(weights[name]!))
            markFolded(name)
        } catch {
            rejected[name] = "\(error)"
        }
    }
}
