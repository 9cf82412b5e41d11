import CohortTensor

/// The coordinator's record of which global version last changed each tensor's bits, so a
/// MODEL can carry only what a node's copy lacks (protocols/wire.md, "Model deltas").
///
/// It starts at the version the coordinator starts from (after `--resume`, the journaled
/// round) with every tensor marked as changed there: nothing is known about earlier versions,
/// and a node whose acknowledged version is older gets the whole model. The record is not
/// journaled: after a restart every node's session is new and gets the whole model first.
final class DownlinkTracker {
    /// Send every MODEL whole (`--full-models`).
    let fullModels: Bool
    /// The earliest version a delta can start from.
    private(set) var since: Int
    /// The version in which each tensor's bits last changed.
    private(set) var lastChanged: [String: Int]
    private var digest: (version: Int, hex: String)?

    init(names: [String], version: Int, fullModels: Bool) {
        self.fullModels = fullModels
        since = version
        lastChanged = Dictionary(uniqueKeysWithValues: names.map { ($0, version) })
    }

    /// Notes the global model of `version` (`next`) after the one before it (`previous`):
    /// tensors whose bits differ are marked as changed in `version`. Both list the same names in
    /// the same order (the coordinator maps the next version over the previous one).
    func advance(from previous: [(name: String, value: Tensor)], to next: [(name: String, value: Tensor)], version: Int) {
        precondition(previous.map(\.name) == next.map(\.name), "versions must list the same tensors in the same order")
        for (old, new) in zip(previous, next) where !ModelDigest.sameBits(old.value, new.value) {
            lastChanged[new.name] = version
        }
    }

    /// The names of the tensors a node holding version `base` lacks, or nil when the whole
    /// model must go (no acknowledged version, one older than `since`, or `fullModels`).
    func changed(after base: Int?, current: Int) -> Set<String>? {
        guard !fullModels, let base, base >= since, base <= current else { return nil }
        return Set(lastChanged.filter { $0.value > base }.keys)
    }

    /// The digest of `global`, the model of `version` (computed once per version).
    func digest(of global: [(name: String, value: Tensor)], version: Int) -> String {
        if let digest, digest.version == version { return digest.hex }
        let hex = ModelDigest.hex(global)
        digest = (version, hex)
        return hex
    }
}
