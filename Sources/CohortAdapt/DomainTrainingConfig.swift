/// Settings shared by the source+target training methods (DANN, Deep CORAL, MMD).
public struct DomainTrainingConfig: Sendable {
    /// Passes over the labelled source data; each source batch is paired with one target batch.
    public var epochs = 30
    /// Rows per source batch and per target batch.
    public var batchSize = 32
    /// Adam learning rate for every trainable parameter.
    public var learningRate: Float = 1e-2
    /// Weight of the domain term (DANN's domain loss, or the CORAL / MMD alignment loss)
    /// against the source label loss.
    public var weight: Float = 1
    /// Anneal the learning rate as in Ganin et al.: `μ_p = μ₀ / (1 + 10p)^0.75`.
    public var annealLearningRate = false
    /// Seed of the batch order.
    public var seed: UInt64 = 0

    /// The defaults: 30 epochs, batches of 32, Adam at 1e-2, weight 1, no annealing, seed 0.
    public init() {}
}

/// One epoch of source+target training.
public struct DomainTrainingRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    /// Mean source cross-entropy.
    public var labelLoss: Float
    /// Mean domain term before weighting (DANN domain-classifier loss, CORAL or MMD value).
    public var domainLoss: Float
    /// Accuracy on the source training batches (training mode).
    public var sourceAccuracy: Float
    /// DANN's gradient-reversal scale at the end of the epoch; nil for CORAL and MMD.
    public var lambda: Float?
}

/// Source+target training that cannot start, with what is wrong.
public struct DomainTrainingError: Error, CustomStringConvertible, Equatable {
    public let description: String
    /// An error with a message.
    public init(_ description: String) { self.description = description }
}
