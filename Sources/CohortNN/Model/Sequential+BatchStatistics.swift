import CohortTensor

/// A training-mode forward pass would give a BatchNorm layer a single value per channel, so
/// its batch mean and variance are undefined (the variance of one value is zero and its
/// unbiased estimate divides by zero).
public struct BatchStatisticsError: Error, CustomStringConvertible {
    /// Name of the first BatchNorm layer that would see one value per channel.
    public let layer: String
    /// Samples in the offending batch.
    public let batchRows: Int
    /// Samples in the whole training set (nil: not known, a single step was asked for).
    public let totalRows: Int?

    public init(layer: String, batchRows: Int, totalRows: Int?) {
        self.layer = layer; self.batchRows = batchRows; self.totalRows = totalRows
    }

    public var description: String {
        let why = totalRows == 1 ? "the training data holds a single row" : "a training batch holds \(batchRows) row(s) (batch size too small)"
        return "BatchNorm layer '\(layer)' needs at least 2 values per channel to compute batch statistics in training mode, "
            + "but \(why): train on at least 2 rows with a batch size of at least 2, or use a model without BatchNorm"
    }
}

extension Sequential {
    /// The name of the first BatchNorm layer that a training-mode forward pass of `batchRows`
    /// samples would give a single value per channel, or nil when every BatchNorm layer gets
    /// at least two (a `batchnorm2d` counts every spatial position of every sample).
    public func batchNormStarved(batchRows: Int) -> String? {
        var shape = inputShape
        for layer in layers {
            if let bn = layer as? BatchNorm, batchRows * (shape.reduce(1, *) / max(bn.features, 1)) < 2 { return bn.name }
            guard let next = try? layer.outputShape(for: shape) else { return nil }
            shape = next
        }
        return nil
    }

    /// Throws `BatchStatisticsError` when a training-mode batch of `batchRows` samples (out of
    /// `totalRows`, nil if unknown) would starve a BatchNorm layer of batch statistics.
    public func checkBatchStatistics(batchRows: Int, totalRows: Int?) throws {
        if let name = batchNormStarved(batchRows: batchRows) {
            throw BatchStatisticsError(layer: name, batchRows: batchRows, totalRows: totalRows)
        }
    }
}
