import CohortCheckpoint
import Foundation

/// Folds a round's updates into a strategy in a fixed order (the participants' name order)
/// whatever order they arrive in, so floating-point sums do not depend on network timing and a
/// resumed run reproduces an uninterrupted one.
///
/// Updates arrive as checked tensor records (`DeltaRecord`, still in their wire encoding), one
/// at a time as their bytes come in, and wait in that form (never as dense tensors) until
/// their turn: every earlier participant folded or failed. Waiting records, and chunks being
/// read, may hold at most `bufferBudget` bytes (counted in message bytes): a participant that
/// would go over waits before reading more (`reserve` returns nil), which stalls its sender
/// through TCP flow control until memory frees up. Updates complete in a row are folded
/// together, one pass per tensor (`DeltaFold`), which gives the same bits as one by one.
///
/// An update is folded whole once complete, so a node cut off mid-stream (connection lost, a
/// later record malformed) leaves no trace, except in one case: the participant whose turn it
/// is never waits, and when its update does not fit in the budget, it commits from then on:
/// what it holds is folded, and what arrives after is folded as it arrives, its large dense
/// records piece by piece (`offer(_:piece:)`, `foldsPieces`), so it holds no record whole. If
/// it is then cut off, what was folded stays: each whole record in its tensor's mean with the
/// node's weight (strategies keep one total weight per tensor), and a record cut off after
/// its first e elements as if the node had sent a sparse record of those e elements (its
/// weight counts in the tensor's total; its other elements count as zero), never a value that
/// was not checked. The node is reported as rejected with the counts. Strategies that need
/// whole updates (`recordFolding` nil: robust statistics, DP clipping) get each update decoded
/// and whole once complete, whatever its size (as its checked records, without decoding, to
/// those that take them: `WholeRecordIntake`); a cut-off one is dropped.
///
/// With a norm bound (`normBound`, the default norm guard: `UpdateNormGuard`), every update's
/// squared norm is summed as its checked records and pieces are offered (`DeltaRecord.squaredNorm`:
/// for float32 the decoder's own sum, no extra pass), and the update is rejected at the first
/// record or piece that takes it over the bound, before that record or piece is folded: an
/// update waiting whole leaves no trace; a committing one is cut off, and what it folded stays
/// (within the bound). Either way the node keeps its connection (`rejected`, `guarded`).
///
/// Not thread-safe: the coordinator calls it under its lock.
public final class OrderedFold: @unchecked Sendable {
    private struct Part {
        var records: [DeltaRecord] = []
        /// Message bytes received and not yet folded, plus reservations for chunks being read.
        var heldBytes = 0
        var complete = false
        /// Folding its records as they arrive (its turn came and it did not fit the budget).
        var committing = false
        var foldedRecords = 0
        /// The record being folded piece by piece: its tensor, elements folded, elements in all.
        var partial: (tensor: String, elements: Int, of: Int)?
        /// Σ x² over the records and pieces offered so far (kept when the records go).
        var squaredNorm = 0.0
    }

    private let order: [String]
    private let weights: [String: Double]
    private let strategy: AggregationStrategy
    private let folder: RecordFolding?
    /// Bytes that waiting records and chunks being read may hold.
    public let bufferBudget: Int
    /// The largest L2 norm an update may reach (the default norm guard); nil: none.
    public let normBound: Double?
    private var next = 0
    private var parts: [String: Part] = [:]
    private var failed = Set<String>()
    private var heldTotal = 0
    /// Whether the round is over: no record or update is taken any more.
    public private(set) var closed = false
    /// Updates folded whole, in order.
    public private(set) var folded: [String] = []
    private var foldedNames = Set<String>()
    /// Participants rejected by the strategy or cut off after committing records, with the reason.
    public private(set) var rejected: [String: String] = [:]
    /// Participants the norm bound left out or cut off, with the verdict (also in `rejected`).
    public private(set) var guarded: [String: String] = [:]
    /// The L2 norm of every update folded whole, by participant.
    public private(set) var norms: [String: Double] = [:]
    /// Broadcast whenever room may have been made or a turn has passed, for readers waiting
    /// in `reserve` (they should still re-check now and then: a wake-up can be missed).
    public let changed = NSCondition()

    /// A fold of `participants` (in this order) weighted by their sample counts, each update's
    /// L2 norm held to `normBound` (nil: no bound).
    public init(participants: [String], samples: [String: Int], strategy: AggregationStrategy, bufferBudget: Int = .max,
                normBound: Double? = nil) {
        order = participants
        weights = samples.mapValues(Double.init)
        self.strategy = strategy
        folder = strategy.recordFolding
        self.bufferBudget = bufferBudget
        self.normBound = normBound
    }

    /// Bytes held: waiting records and reservations.
    public var heldBytes: Int { heldTotal }

    /// Whether `name`'s turn has come (every earlier participant folded or failed).
    public func isInTurn(_ name: String) -> Bool { next < order.count && order[next] == name }

    /// Whether `name` may read its next `bytes` now, and how many bytes that reserves: nil
    /// while it must wait; `bytes` when they fit in the budget; 0 when nothing is held for
    /// it (it commits as it goes, or cannot be folded any more). The participant in turn
    /// never waits: over the budget it starts committing its records as they arrive.
    public func reserve(_ name: String, bytes: Int) -> Int? {
        if closed || failed.contains(name) || foldedNames.contains(name) || parts[name]?.committing == true { return 0 }
        if heldTotal + bytes <= bufferBudget {
            parts[name, default: Part()].heldBytes += bytes
            heldTotal += bytes
            return bytes
        }
        guard isInTurn(name) else { return nil }
        guard folder != nil else {   // whole-update strategies need it whole, whatever the size
            parts[name, default: Part()].heldBytes += bytes
            heldTotal += bytes
            return bytes
        }
        parts[name, default: Part()].committing = true
        foldRecords(of: [name])
        release(name)
        return 0
    }

    /// Whether `name`'s dense records may now be folded piece by piece as their bytes arrive
    /// (`offer(_:piece:)`): it is in turn and commits, and its strategy folds records.
    public func foldsPieces(_ name: String) -> Bool {
        !closed && folder != nil && !failed.contains(name) && !foldedNames.contains(name) && parts[name]?.committing == true
    }

    /// Whether `name` has no (further) update this round (failed, or left out before it sent
    /// anything): what it still sends is read, checked and dropped, its large records best in
    /// pieces (`offer(_:piece:)` ignores them) so none is gathered whole for nothing.
    public func hasFailed(_ name: String) -> Bool { failed.contains(name) }

    /// The chunk `reserve` reserved `reserved` bytes for has been read and its records
    /// offered: `received` message bytes stay held until they are folded.
    public func read(_ name: String, reserved: Int, received: Int) {
        // Nothing to adjust once its bytes were released (folded, committing, dropped).
        guard reserved > 0, !closed, !failed.contains(name), !foldedNames.contains(name), var part = parts[name], !part.committing else { return }
        part.heldBytes += received - reserved
        heldTotal += received - reserved
        parts[name] = part
    }

    /// Takes one checked record of `name`'s update; folds whatever is now in order.
    public func offer(_ name: String, record: DeltaRecord) throws {
        guard !closed else { throw RoundClosed() }
        guard let weight = weights[name] else { throw AggregationError("'\(name)' is not a participant of this round") }
        guard weight > 0 else { throw AggregationError("update with \(Int(weight)) samples: the sample count must be positive") }
        guard !failed.contains(name) else { return }
        guard admits(name, squared: record.squaredNorm) else { return }
        if let folder, parts[name]?.committing == true {   // folded at once, from its bytes where they lie
            folder.fold(tensor: record.name, records: [record], weights: [weight])
            parts[name]!.foldedRecords += 1
            return
        }
        parts[name, default: Part()].records.append(record.owned())
    }

    /// Folds one checked piece of a dense record of `name`'s update at once; only while
    /// `foldsPieces(name)` (a node failed meanwhile is ignored).
    public func offer(_ name: String, piece: DeltaRecordPiece) throws {
        guard !closed else { throw RoundClosed() }
        guard !failed.contains(name) else { return }
        guard let folder, let weight = weights[name], parts[name]?.committing == true else {
            preconditionFailure("'\(name)' offered a piece while not committing its update")
        }
        guard admits(name, squared: piece.squaredNorm) else { return }
        var part = parts[name]!
        folder.fold(tensor: piece.name, piece: piece, weight: weight)
        if piece.isLast {
            part.foldedRecords += 1
            part.partial = nil
        } else {
            part.partial = (piece.name, piece.elements.upperBound, piece.recordElements)
        }
        parts[name] = part
    }

    /// `name`'s update has ended well (every record offered); folds whatever is now in order.
    public func complete(_ name: String) throws {
        guard !closed else { throw RoundClosed() }
        guard !failed.contains(name) else { return }
        parts[name, default: Part()].complete = true
        drain()
    }

    /// Marks a participant as having no (further) update this round.
    public func fail(_ name: String) {
        guard !closed, !failed.contains(name), !foldedNames.contains(name) else { return }
        failed.insert(name)
        if let part = parts[name], part.foldedRecords > 0 || part.partial != nil, rejected[name] == nil {
            rejected[name] = "cut off after \(Self.foldedSoFar(part)), which were aggregated (the update did not fit the buffer budget)"
        }
        release(name)
        drain()
    }

    /// Folds everything complete and still waiting, in order, skipping the rest; no update
    /// is taken after this.
    public func close() {
        for name in order[next...] where !(parts[name]?.complete ?? false) { fail(name) }
        drain()
        closed = true
    }

    private func markFolded(_ name: String) {
        folded.append(name)
        foldedNames.insert(name)
        if normBound != nil { norms[name] = (parts[name]?.squaredNorm ?? 0).squareRoot() }
    }

    /// What a committing node has folded: "k tensor record(s)[ and e of the n elements of 't']".
    private static func foldedSoFar(_ part: Part) -> String {
        let partial = part.partial.map { " and \($0.elements) of the \($0.of) elements of '\($0.tensor)'" } ?? ""
        return "\(part.foldedRecords) tensor record(s)\(partial)"
    }

    /// Adds `squared` to `name`'s running Σ x²; false (and `name` failed, the verdict in
    /// `guarded` and `rejected`) when that takes its norm over `normBound`.
    private func admits(_ name: String, squared: Double) -> Bool {
        guard let normBound else { return true }
        var part = parts[name, default: Part()]
        part.squaredNorm += squared
        parts[name] = part
        let norm = part.squaredNorm.squareRoot()
        if norm <= normBound { return true }
        let folded = part.foldedRecords > 0 || part.partial != nil
        let verdict = folded
            ? "norm guard: cut off: update norm reached \(Self.format(norm)), over the bound \(Self.format(normBound)); the \(Self.foldedSoFar(part)) folded before stay (within the bound)"
            : "norm guard: rejected: update norm reached \(Self.format(norm)), over the bound \(Self.format(normBound))"
        let remedy = " (the default bound of a plan without \"screening\"; a plan's \"screening\" sets other bounds, \"screening\": {} none: protocols/plan.md)"
        guarded[name] = verdict + remedy
        rejected[name] = verdict + remedy
        fail(name)
        return false
    }

    private static func format(_ x: Double) -> String { String(format: "%.4g", x) }

    private func release(_ name: String) {
        defer { changed.broadcast() }
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
            guard parts[name]?.complete == true else { return }
            var run = [name]
            var j = next + 1
            while j < order.count {
                if failed.contains(order[j]) { j += 1; continue }
                guard parts[order[j]]?.complete == true else { break }
                run.append(order[j])
                j += 1
            }
            if let folder {
                foldRecords(of: run)
                for n in run { folder.countUpdate(); markFolded(n) }
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

    /// Hands a complete update to a strategy that takes whole updates: as its checked records
    /// when the strategy takes them (`WholeRecordIntake`), else decoded.
    private func accumulateWhole(_ name: String) {
        do {
            let records = parts[name]?.records ?? []
            parts[name]?.records = []
            if let intake = strategy as? WholeRecordIntake {
                try intake.accumulate(records: records, samples: Int(weights[name]!))
                markFolded(name)
                return
            }
            let delta = try ModelDelta(records.map { ($0.name, $0.decoded()) })
            try strategy.accumulate(delta, samples: Int(weights[name]!))
            markFolded(name)
        } catch {
            rejected[name] = "\(error)"
        }
    }
}

/// An update (or a piece of one) that arrived after its round closed: the node did nothing
/// wrong and keeps its session.
public struct RoundClosed: Error, CustomStringConvertible, Sendable {
    public init() {}
    public var description: String { "arrived after the round closed" }
}
