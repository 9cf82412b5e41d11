import CohortTensor

/// Labelled samples held in memory: inputs `[n, …]` and one integer class label per row, or
/// for regression continuous `targets` `[n, k]` (the labels are then all 0).
public struct LabelledData: Sendable {
    public var inputs: Tensor
    public var labels: [Int]
    /// Regression targets `[n, k]` (standardised when `targetScaling` is set); nil for classification.
    public var targets: Tensor?
    /// How `targets` were standardised, to report errors in the original units (nil: as they are).
    public var targetScaling: TargetScaling?

    /// Pairs inputs with labels. Precondition: one label per row.
    public init(inputs: Tensor, labels: [Int]) {
        precondition(inputs.rows == labels.count, "\(labels.count) labels for \(inputs.rows) input rows")
        self.inputs = inputs
        self.labels = labels
    }

    /// Pairs inputs with regression targets `[n, k]`. Precondition: one target row per input row.
    public init(inputs: Tensor, targets: Tensor, scaling: TargetScaling? = nil) {
        precondition(targets.rank == 2 && inputs.rows == targets.rows, "targets \(targets.shape) for \(inputs.rows) input rows")
        precondition(scaling == nil || scaling!.center.count == targets.columns, "target scaling for \(scaling?.center.count ?? 0) of \(targets.columns) targets")
        self.inputs = inputs
        self.labels = [Int](repeating: 0, count: targets.rows)
        self.targets = targets
        self.targetScaling = scaling
    }

    /// Whether the samples carry regression targets rather than class labels.
    public var isRegression: Bool { targets != nil }

    /// Number of samples.
    public var count: Int { labels.count }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: some Collection<Int>) -> LabelledData {
        if let targets { return LabelledData(inputs: inputs.gatherRows(indices), targets: targets.gatherRows(indices), scaling: targetScaling) }
        return LabelledData(inputs: inputs.gatherRows(indices), labels: indices.map { labels[$0] })
    }

    /// Batches of at most `size` samples in a seeded shuffled order (or in order with no rng).
    public func batches(of size: Int, rng: inout SeededRandom?) -> [LabelledData] {
        batches(of: size, rng: &rng, foldingSingleton: false)
    }

    /// How many batches `trainingBatches(of: size, …)` makes of `count` rows.
    public static func trainingBatchCount(rows count: Int, size: Int) -> Int {
        guard count > 0, size > 0 else { return 0 }
        return size == 1 ? count : max(1, count / size + (count % size > 1 ? 1 : 0))
    }

    /// Training batches: `batches(of:rng:)`, except that a trailing batch of a single row is
    /// folded into the batch before it (which then holds `size + 1` rows). A one-row batch gives
    /// BatchNorm no batch statistics (nor, once a ResNet's last stage is 1×1, two values per
    /// channel) and a gradient from one sample; folding keeps every row in the epoch. With
    /// `size == 1` every batch is one row, as asked; otherwise only a single row in total makes
    /// a one-row batch.
    public func trainingBatches(of size: Int, rng: inout SeededRandom?) -> [LabelledData] {
        batches(of: size, rng: &rng, foldingSingleton: size > 1)
    }

    private func batches(of size: Int, rng: inout SeededRandom?, foldingSingleton: Bool) -> [LabelledData] {
        precondition(size > 0, "batch size must be positive, got \(size)")
        let order = rng.map { r -> [Int] in var r = r; let p = r.permutation(count); rng = r; return p } ?? Array(0..<count)
        var starts = Array(stride(from: 0, to: count, by: size))
        if foldingSingleton, starts.count > 1, count - starts[starts.count - 1] == 1 { starts.removeLast() }
        return starts.enumerated().map { i, lo in
            subset(order[lo..<(i + 1 < starts.count ? starts[i + 1] : count)])
        }
    }
}

/// Runs a model over data in inference mode (evaluation, nothing kept for backward), batch by batch.
public enum Inference {
    /// Model outputs for every row of `inputs`, concatenated.
    public static func outputs(_ model: Sequential, _ inputs: Tensor, batchSize: Int = 256) -> Tensor {
        var data: [Float] = []
        var shape: [Int] = []
        for start in stride(from: 0, to: inputs.rows, by: batchSize) {
            let out = model.forward(inputs.rows(start..<min(start + batchSize, inputs.rows)), mode: .inference)
            data += out.data
            shape = out.shape
        }
        shape[0] = inputs.rows
        return Tensor(shape: shape.isEmpty ? [0] : shape, data: data)
    }

    /// Class probabilities (softmax of the logits) for every row.
    public static func probabilities(_ model: Sequential, _ inputs: Tensor, batchSize: Int = 256) -> Tensor {
        outputs(model, inputs, batchSize: batchSize).softmaxRows()
    }

    /// MAE, RMSE (original units) and R² of `model`'s outputs against the data's targets.
    /// - Throws: `MetricsError` for data without targets, no rows, or an output width other than the targets'.
    public static func regressionReport(_ model: Sequential, _ data: LabelledData) throws(MetricsError) -> RegressionReport {
        guard let targets = data.targets else { throw .empty(input: "regression targets") }
        let out = outputs(model, data.inputs)
        return try RegressionReport(predictions: out.data, targets: targets.data, outputs: targets.columns, scaling: data.targetScaling)
    }

    /// The validation score training selects on (higher is better): accuracy for classes,
    /// R² for regression (−∞ when it cannot be computed).
    public static func score(_ model: Sequential, _ data: LabelledData) -> Float {
        guard data.isRegression else { return accuracy(model, data) }
        guard let r = try? regressionReport(model, data), r.r2.isFinite else { return -.infinity }
        return Float(r.r2)
    }

    /// Regression scores under `prefix` (`mae`, `rmse`, `r2`, `samples`) for reports; empty
    /// for classification data or when they cannot be computed.
    public static func regressionMetrics(_ model: Sequential, _ data: LabelledData, prefix: String) -> [String: Double] {
        guard data.isRegression, data.count > 0, let r = try? regressionReport(model, data) else { return [:] }
        return [prefix + "mae": r.mae, prefix + "rmse": r.rmse, prefix + "r2": r.r2, prefix + "samples": Double(r.samples)]
    }

    /// Accuracy, balanced accuracy, macro F1, AUROC and the confusion matrix of `model` on
    /// `data` (classes: the model's output width).
    public static func report(_ model: Sequential, _ data: LabelledData) throws -> ClassificationReport {
        let classes = model.outputShape.reduce(1, *)
        return try ClassificationReport(labels: data.labels, probabilities: probabilities(model, data.inputs).data, classes: classes)
    }

    /// Fraction of rows whose arg-max output equals the label; NaN for regression data.
    public static func accuracy(_ model: Sequential, _ data: LabelledData) -> Float {
        if data.isRegression { return .nan }
        guard data.count > 0 else { return 0 }
        let predicted = outputs(model, data.inputs).argmaxRows()
        return Float(zip(predicted, data.labels).filter { $0 == $1 }.count) / Float(data.count)
    }
}
