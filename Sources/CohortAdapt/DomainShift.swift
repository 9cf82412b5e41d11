import CohortNN
import CohortTensor

/// Measures how far each site's data lies from the source data in a model's feature space.
public enum DomainShift {
    /// How the measurement samples and trains its domain classifier.
    public struct Config: Sendable {
        /// At most this many rows per domain (a seeded random subset), bounding MMD's O(n²) cost.
        public var maxSamples = 400
        /// Logistic-regression training for the proxy A-distance.
        public var epochs = 60
        public var batchSize = 32
        public var learningRate: Float = 0.05
        public var seed: UInt64 = 0
        /// 400 samples, 60 epochs of Adam at 0.05 in batches of 32, seed 0.
        public init() {}
    }

    /// Features of `source` and of each site after the first `cutAt` layers of `model`
    /// (evaluation mode), then one row per site: MMD and the proxy A-distance.
    public static func measure(model: Sequential, cutAt: Int, source: Tensor, sites: [(name: String, inputs: Tensor)],
                               config: Config = Config()) throws -> [ShiftRow] {
        guard cutAt >= 0 && cutAt <= model.layers.count else {
            throw DomainTrainingError("cutAt \(cutAt) is outside 0...\(model.layers.count) (the model has \(model.layers.count) layers)")
        }
        guard config.maxSamples >= 4 else { throw DomainTrainingError("maxSamples must be at least 4, got \(config.maxSamples)") }
        let columns = model.inputShape.reduce(1, *)
        for (name, x) in [("source", source)] + sites.map({ ($0.name, $0.inputs) }) where x.rows < 4 || x.columns != columns {
            throw DomainTrainingError("'\(name)' needs at least 4 rows of \(columns) values (model input \(model.inputShape)), got \(x.rows) rows of \(x.columns)")
        }
        let backbone = try model.split(at: cutAt).backbone
        func features(_ x: Tensor) -> Tensor { let f = Inference.outputs(backbone, x); return f.reshaped([f.rows, f.columns]) }
        var rng = SeededRandom(seed: config.seed)
        let sourceFeatures = features(source)
        let bandwidths = medianBandwidths(subset(sourceFeatures, count: config.maxSamples, rng: &rng))
        return try sites.map { site in
            let siteFeatures = features(site.inputs)
            let m = min(sourceFeatures.rows, siteFeatures.rows, config.maxSamples)
            let s = subset(sourceFeatures, count: m, rng: &rng), t = subset(siteFeatures, count: m, rng: &rng)
            let mmd = AlignmentLoss.mmd(source: s, target: t, bandwidths: bandwidths).value
            let error = try domainClassifierError(s, t, config: config, rng: &rng)
            return ShiftRow(site: site.name, mmd: mmd, proxyADistance: 2 * (1 - 2 * min(error, 0.5)), domainError: error, samplesPerDomain: m)
        }
    }

    /// Held-out error of a logistic regression (one Dense layer, 2 logits) telling `s` (0) from
    /// `t` (1): trained on a random half of the pooled, standardised rows, tested on the rest.
    static func domainClassifierError(_ s: Tensor, _ t: Tensor, config: Config, rng: inout SeededRandom) throws -> Float {
        let n = s.rows + t.rows, d = s.columns
        var pooled = Tensor(shape: [n, d], data: s.data + t.data)
        standardize(&pooled)
        let data = LabelledData(inputs: pooled, labels: (0..<n).map { $0 < s.rows ? 0 : 1 })
        let order = rng.permutation(n)
        let train = data.subset(order[0..<(n / 2)]), test = data.subset(order[(n / 2)...])
        let clf = try Sequential(spec: ModelSpec(inputShape: [d], layers: [LayerSpec(.dense, name: "domain", units: 2)]), seed: rng.next())
        let trainer = Trainer(model: clf, optimizer: Adam(groups: [ParameterGroup(parameters: clf.parameters, learningRate: config.learningRate)]),
                              config: TrainingConfig(epochs: config.epochs, batchSize: config.batchSize, seed: rng.next()))
        _ = try trainer.fit(train)
        return 1 - Inference.accuracy(clf, test)
    }

    /// Gaussian bandwidths σ = √(median squared distance × {1/4, 1/2, 1, 2, 4}) of `x`.
    static func medianBandwidths(_ x: Tensor) -> [Float] {
        let n = x.rows, d = x.columns
        var distances: [Float] = []
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) {
                var s: Float = 0
                for k in 0..<d { let v = x.data[i * d + k] - x.data[j * d + k]; s += v * v }
                distances.append(s)
            }
        }
        distances.sort()
        let median = distances.isEmpty ? 1 : max(distances[distances.count / 2], 1e-6)
        return [0.25, 0.5, 1, 2, 4].map { (median * $0).squareRoot() }
    }

    /// Zero mean, unit variance per column (constant columns are only centred).
    static func standardize(_ x: inout Tensor) {
        let n = x.rows, d = x.columns
        for j in 0..<d {
            var mean: Float = 0
            for i in 0..<n { mean += x.data[i * d + j] }
            mean /= Float(n)
            var variance: Float = 0
            for i in 0..<n { let v = x.data[i * d + j] - mean; variance += v * v }
            let inv = variance > 0 ? 1 / (variance / Float(n)).squareRoot() : 1
            for i in 0..<n { x.data[i * d + j] = (x.data[i * d + j] - mean) * inv }
        }
    }

    /// `count` random rows of `x` (all rows, shuffled, when it has no more).
    static func subset(_ x: Tensor, count: Int, rng: inout SeededRandom) -> Tensor {
        x.gatherRows(rng.permutation(x.rows).prefix(count))
    }
}
