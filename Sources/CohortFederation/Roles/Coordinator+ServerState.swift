import CohortCheckpoint
import CohortTensor
import Foundation

/// The server optimizer's state in the journal: `server-state-R.ckpt` holds the state after
/// round R (a checkpoint file of named tensors, no architecture, metadata `round` = R).
///
/// Order of the writes after round R: `rounds.jsonl`, then `server-state-R.ckpt`, then
/// `global.ckpt`, then the previous round's state file is removed; each write is durable (temp
/// file, fsync, rename, directory fsync). A crash anywhere leaves the state of the round
/// `global.ckpt` records on disk: before `global.ckpt` is replaced it still says R − 1, whose
/// state file is not yet removed; after, it says R. `--resume` reads the state of that round.
extension Coordinator {
    /// The state `strategy` carries from round to round, looking through the screening wrapper.
    static func persistentState(of strategy: AggregationStrategy) -> PersistentStrategyState? {
        ((strategy as? ScreenedAggregation)?.base ?? strategy) as? PersistentStrategyState
    }

    static func serverStatePath(outDir: String, round: Int) -> String {
        (outDir as NSString).appendingPathComponent("server-state-\(round).ckpt")
    }

    /// Writes the strategy's state after `round` (if it keeps any), before the global checkpoint.
    func journalServerState(round: Int, strategy: AggregationStrategy) throws {
        guard let stateful = Self.persistentState(of: strategy) else { return }
        let meta = CheckpointMetadata(source: "coordinator \(strategy.name) state after round \(round)", metrics: ["round": Double(round)])
        try CheckpointFile.save(Checkpoint(architecture: nil, metadata: meta, tensors: stateful.savedState()),
                                to: Self.serverStatePath(outDir: config.outDir, round: round))
    }

    /// Removes state files of rounds before `round` (and temporary files a crash left while
    /// writing one), once the global checkpoint records `round`.
    func pruneServerState(before round: Int) {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: config.outDir) else { return }
        for file in files where file.hasPrefix("server-state-") {
            if let r = Int(file.dropFirst("server-state-".count).prefix { $0.isNumber }), r < round {
                try? FileManager.default.removeItem(atPath: (config.outDir as NSString).appendingPathComponent(file))
            }
        }
    }

    /// On resume after `round` completed rounds: restores the strategy's state saved with that
    /// round, checked against the global model's tensors.
    static func restoreServerState(_ strategy: AggregationStrategy, outDir: String, round: Int, global: [(name: String, value: Tensor)]) throws {
        guard round > 0, let stateful = persistentState(of: strategy) else { return }
        let path = serverStatePath(outDir: outDir, round: round)
        guard FileManager.default.fileExists(atPath: path) else {
            throw AggregationError("cannot resume \(strategy.name): \(path) is missing (the server optimizer's state after round \(round))")
        }
        let saved = try CheckpointFile.load(path)
        guard saved.metadata.metrics["round"].map(Int.init) == round else {
            throw AggregationError("\(path) records round \(saved.metadata.metrics["round"].map { "\(Int($0))" } ?? "none"), expected \(round)")
        }
        let sizes = Dictionary(uniqueKeysWithValues: global.map { ($0.name, $0.value.count) })
        for (name, tensor) in saved.tensors {
            let tensorName = String(name.drop { $0 != "/" }.dropFirst())
            guard sizes[tensorName] == tensor.count else {
                throw AggregationError("\(path): '\(name)' has \(tensor.count) values; the model's '\(tensorName)' has \(sizes[tensorName].map(String.init) ?? "no tensor")")
            }
        }
        do { try stateful.restore(saved.tensors) } catch { throw AggregationError("\(path): \(error)") }
    }
}
