import CohortTensor

/// Early stopping and best-checkpoint selection on a validation metric (higher is better).
///
/// Each epoch's score is offered; the best model state so far is kept in memory, and `shouldStop`
/// turns true after `patience` epochs without an improvement of more than `minDelta`.
public struct EarlyStopping {
    public let patience: Int
    public let minDelta: Float
    public private(set) var bestScore = -Float.infinity
    public private(set) var bestEpoch = -1
    public private(set) var bestState: [(name: String, value: Tensor)] = []
    private var epochsWithoutImprovement = 0

    /// Stops after `patience` epochs without improvement.
    public init(patience: Int, minDelta: Float = 0) {
        precondition(patience >= 1, "patience must be ≥ 1")
        self.patience = patience
        self.minDelta = minDelta
    }

    /// Records the score of `epoch`; snapshots `model` when it is the best so far. NaN never wins.
    /// Returns true when it improved.
    @discardableResult
    public mutating func offer(score: Float, epoch: Int, model: Sequential) -> Bool {
        if score.isFinite && score > bestScore + minDelta {
            bestScore = score
            bestEpoch = epoch
            bestState = model.stateDict()
            epochsWithoutImprovement = 0
            return true
        }
        epochsWithoutImprovement += 1
        return false
    }

    /// True once `patience` epochs in a row brought no improvement.
    public var shouldStop: Bool { epochsWithoutImprovement >= patience }

    /// Restores the best snapshot into `model` (no-op before any offer).
    public func restoreBest(into model: Sequential) throws {
        guard !bestState.isEmpty else { return }
        try model.load(Dictionary(uniqueKeysWithValues: bestState.map { ($0.name, $0.value) }))
    }
}
