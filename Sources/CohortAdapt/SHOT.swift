import CohortNN
import CohortTensor

/// SHOT (Liang et al. 2020): source-free adaptation. The classifier head is frozen; the
/// feature extractor is trained on unlabelled target data to make predictions confident and
/// diverse (information maximisation) and consistent with self-supervised pseudo-labels
/// (nearest class centroid in feature space, refined once). No source data is needed, which
/// fits a site that only ever receives the model.
public enum SHOT {
    /// How SHOT trains.
    public struct Config: Sendable {
        public var epochs = 5
        public var batchSize = 64
        public var learningRate: Float = 1e-3
        /// Weight β of the pseudo-label cross-entropy.
        public var pseudoLabelWeight: Float = 0.3
        /// How many final layers form the frozen classifier head.
        public var headLayers = 1
        public var seed: UInt64 = 0
        public init() {}
    }

    /// Adapts `model` in place on `inputs`; returns the information-maximisation loss of each
    /// epoch. Trainable flags are restored afterwards.
    @discardableResult
    public static func adapt(_ model: Sequential, inputs: Tensor, classes: Int, config: Config = Config()) throws -> [Float] {
        precondition(config.headLayers >= 1 && config.headLayers < model.layers.count, "SHOT needs a head and a feature extractor")
        let cut = model.layers.count - config.headLayers
        let (backbone, _) = try model.split(at: cut)
        let saved = model.parameters.map(\.isTrainable)
        defer { for (p, t) in zip(model.parameters, saved) { p.isTrainable = t } }
        model.setTrainable(false, layers: cut..<model.layers.count)
        let optimizer = SGD(groups: [ParameterGroup(parameters: backbone.trainableParameters, learningRate: config.learningRate)],
                            momentum: 0.9)
        var rng: SeededRandom? = SeededRandom(seed: config.seed)
        var history: [Float] = []
        for _ in 0..<config.epochs {
            let labels = pseudoLabels(model: model, backbone: backbone, inputs: inputs, classes: classes)
            let data = LabelledData(inputs: inputs, labels: labels)
            history.append(UnsupervisedEpoch.run(model, optimizer: optimizer, data: data, batchSize: config.batchSize, rng: &rng) { logits, batch in
                var loss = PredictionLoss.informationMaximization(logits: logits)
                loss.gradient.add(Loss.softmaxCrossEntropy(logits: logits, labels: batch.labels).gradient, scaledBy: config.pseudoLabelWeight)
                return loss
            })
        }
        return history
    }

    /// Nearest-centroid pseudo-labels under cosine distance: centroids weighted by the current
    /// soft predictions, then recomputed once from the hard assignment.
    public static func pseudoLabels(model: Sequential, backbone: Sequential, inputs: Tensor, classes: Int) -> [Int] {
        let features = normalizedRows(Inference.outputs(backbone, inputs))
        let probs = Inference.probabilities(model, inputs)
        let n = features.rows, d = features.columns
        var weights = probs
        var labels: [Int] = []
        for round in 0..<2 {
            var centroids = [Float](repeating: 0, count: classes * d)
            var mass = [Float](repeating: 0, count: classes)
            for i in 0..<n {
                for k in 0..<classes {
                    let w = round == 0 ? weights.data[i * classes + k] : (labels[i] == k ? 1 : 0)
                    if w == 0 { continue }
                    mass[k] += w
                    for j in 0..<d { centroids[k * d + j] += w * features.data[i * d + j] }
                }
            }
            let c = normalizedRows(Tensor(shape: [classes, d], data: centroids))
            let similarity = Tensor.matmul(features, c, transB: true)
            labels = (0..<n).map { i in
                var best = -1
                var bestValue = -Float.infinity
                for k in 0..<classes where mass[k] > 0 && similarity.data[i * classes + k] > bestValue {
                    best = k; bestValue = similarity.data[i * classes + k]
                }
                return max(best, 0)
            }
            weights = Tensor(shape: [n, classes])
        }
        return labels
    }

    static func normalizedRows(_ x: Tensor) -> Tensor {
        let n = x.rows, d = x.columns
        var out = x.reshaped([n, d])
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<d { s += out.data[i * d + j] * out.data[i * d + j] }
            let inv = 1 / max(s.squareRoot(), 1e-12)
            for j in 0..<d { out.data[i * d + j] *= inv }
        }
        return out
    }
}
