import CohortTransport
import Foundation

/// The final model's metrics at every node that answered EVALUATE, as in `evaluation.json`.
public struct EvaluationRecord: Codable, Sendable, Equatable {
    /// The last completed round (the model evaluated is its aggregate).
    public var round: Int
    public var modelVersion: Int
    /// Each node's metrics (`test_accuracy`, `test_balanced_accuracy`, `test_samples`,
    /// `val_accuracy`, ... as the node reports them; for regression `test_mae`, `test_rmse`,
    /// `test_r2`, `val_r2`, ... in the target's original units).
    public var nodes: [String: [String: Double]]
    /// Nodes that did not answer, with the reason.
    public var failed: [String: String]
    /// Every node dropped during the run (from the round records, then the evaluation itself):
    /// which, in which round, when and why. Absent when none were.
    public var dropped: [NodeDrop]? = nil

    /// Reads `evaluation.json` from a coordinator's output folder.
    public static func load(outDir: String) throws -> EvaluationRecord {
        let path = (outDir as NSString).appendingPathComponent("evaluation.json")
        guard let data = FileManager.default.contents(atPath: path) else { throw AggregationError("cannot read \(path)") }
        do { return try JournalCoding.decoder.decode(EvaluationRecord.self, from: data) } catch {
            throw AggregationError("\(path): not an evaluation record: \(error)")
        }
    }
}

/// JSON settings shared by the journal files: non-finite metrics are written as strings.
enum JournalCoding {
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}

extension Coordinator {
    /// Sends the current global model to every connected node as EVALUATE, waits up to the
    /// round timeout for their EVAL_RESULTs, and writes `evaluation.json` atomically. A node
    /// that fails is recorded, not fatal: the trained model is already journaled.
    func evaluateFinalModel(round: Int) throws {
        let targets = state.withLock { $0.sortedSessions }
        guard !targets.isEmpty else {
            log("coordinator: no node connected to evaluate the final model")
            return
        }
        let header = RoundMessages.ModelHeader(round: round, modelVersion: version, plan: plan, architecture: architecture)
        var cache: [Int: StreamedMessage] = [:]
        let messages = try Dictionary(uniqueKeysWithValues: targets.map { ($0.name, try modelMessage(.evaluate, header: header, for: $0, cache: &cache).message) })
        let results = Locked(EvaluationRecord(round: round, modelVersion: version, nodes: [:], failed: [:]))
        let group = DispatchGroup()
        let expectedVersion = version
        for target in targets {
            group.enter()
            let handOff = HandOff(target)
            spawn { [self] in
                defer { group.leave() }
                let session = handOff.value
                do {
                    try session.conn.send(messages[session.name]!, version: ProtocolVersion.current)
                    let frame = try Handshake.expect(session.conn, .evalResult, timeout: config.roundTimeout)
                    let (h, _) = try RoundMessages.parse(frame.payload, as: RoundMessages.EvalResultHeader.self)
                    guard h.modelVersion == expectedVersion else {
                        throw AggregationError("result for model \(h.modelVersion), expected \(expectedVersion)")
                    }
                    results.update { $0.nodes[session.name] = h.metrics }
                } catch {
                    results.update { $0.failed[session.name] = "\(error)" }
                }
            }
        }
        if group.wait(timeout: .now() + config.roundTimeout + 2) == .timedOut {
            for t in targets where results.value.nodes[t.name] == nil && results.value.failed[t.name] == nil {
                results.update { $0.failed[t.name] = "no result within \(config.roundTimeout) s" }
                dropSession(t, reason: .missedDeadline, detail: "no result within \(config.roundTimeout) s")
            }
        }
        var record = results.value
        let dropped = journaled.flatMap { $0.dropped ?? [] } + (takeDrops() ?? [])
        record.dropped = dropped.isEmpty ? nil : dropped
        let data = try JournalCoding.encoder.encode(record)
        try data.write(to: URL(fileURLWithPath: (config.outDir as NSString).appendingPathComponent("evaluation.json")), options: .atomic)
        // Regression nodes report R² (`test_r2` / `val_r2`) instead of accuracy.
        let r2s = record.nodes.values.compactMap { $0["test_r2"] ?? $0["val_r2"] }.filter(\.isFinite)
        let accuracies = r2s.isEmpty ? record.nodes.values.compactMap { $0["test_accuracy"] ?? $0["val_accuracy"] }.filter(\.isFinite) : r2s
        let mean = accuracies.isEmpty ? Double.nan : accuracies.reduce(0, +) / Double(accuracies.count)
        log("coordinator: final model evaluated at \(record.nodes.count)/\(targets.count) node(s), mean \(r2s.isEmpty ? "accuracy" : "R²") \(String(format: "%.3f", mean))"
            + (record.failed.isEmpty ? "" : "; failed: \(record.failed.keys.sorted().joined(separator: ", "))"))
        if !dropped.isEmpty {
            log("coordinator: nodes dropped during the run: "
                + dropped.map { "'\($0.node)' in round \($0.round) (\($0.reason.rawValue))" }.joined(separator: ", "))
        }
    }
}

/// A value guarded by a lock, for results gathered by several threads.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    public init(_ value: Value) { stored = value }
    public var value: Value { lock.withLock { stored } }
    public func update(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
