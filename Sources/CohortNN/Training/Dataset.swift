import CohortTensor

/// Labelled samples held in memory: inputs `[n, …]` and one integer class label per row.
public struct LabelledData: Sendable {
    public var inputs: Tensor
    public var labels: [Int]

    /// Pairs inputs with labels. Precondition: one label per row.
    public init(inputs: Tensor, labels: [Int]) {
        precondition(inputs.rows == labels.count, "\(labels.count) labels for \(inputs.rows) input rows")
        self.inputs = inputs
        self.labels = labels
    }

    /// Number of samples.
    public var count: Int { labels.count }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: some Collection<Int>) -> LabelledData {
        LabelledData(inputs: inputs.gatherRows(indices), labels: indices.map { labels[$0] })
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

    /// Accuracy, balanced accuracy, macro F1, AUROC and the confusion matrix of `model` on
    /// `data` (classes: the model's output width).
    public static func report(_ model: Sequential, _ data: LabelledData) throws -> ClassificationReport {
        let classes = model.outputShape.reduce(1, *)
        return try ClassificationReport(labels: data.labels, probabilities: probabilities(model, data.inputs).data, classes: classes)
    }

    /// Fraction of rows whose arg-max output equals the label.
    public static func accuracy(_ model: Sequential, _ data: LabelledData) -> Float {
        guard data.count > 0 else { return 0 }
        let predicted = outputs(model, data.inputs).argmaxRows()
        return Float(zip(predicted, data.labels).filter { $0 == $1 }.count) / Float(data.count)
    }
}
