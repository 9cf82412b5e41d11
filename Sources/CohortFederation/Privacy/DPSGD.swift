import CohortNN
import CohortTensor

/// Record-level DP-SGD (Abadi et al. 2016, "Deep learning with differential privacy") for
/// training at one node, for a patient-level guarantee on what the node sends out.
///
/// Each step samples a batch by Poisson sampling (every example independently with probability
/// q = batch size / N), computes every sampled example's gradient on its own (microbatches of
/// one), clips each to L2 norm C over all trainable parameters together, sums them, adds
/// N(0, (σC)²) to every coordinate, divides by the expected batch size qN and hands the result
/// to the optimizer (momentum, weight decay and a proximal pull are post-processing of it). The
/// forward pass runs in evaluation mode: BatchNorm then uses the statistics the model already
/// holds (the received global ones) instead of batch statistics, which would mix examples and
/// break the per-example sensitivity, and dropout is off.
///
/// The guarantee is that of `steps` compositions of the sampled Gaussian mechanism at (q, σ),
/// which `RDPAccountant` turns into (ε, δ) for the examples of this node.
public struct DPSGD {
    /// C: every example's gradient is clipped to this L2 norm.
    public let clipNorm: Double
    /// σ: noise standard deviation on the sum of clipped gradients, divided by C.
    public let noiseMultiplier: Double

    /// DP-SGD with per-example clip norm C and noise multiplier σ.
    public init(clipNorm: Double, noiseMultiplier: Double) {
        precondition(clipNorm > 0 && clipNorm.isFinite, "DP-SGD clip norm must be positive and finite")
        precondition(noiseMultiplier >= 0 && noiseMultiplier.isFinite, "DP-SGD noise multiplier must be finite and ≥ 0")
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
    }

    /// q for `batchSize` out of `count` examples (at most 1).
    public static func sampleRate(batchSize: Int, count: Int) -> Double { min(1, Double(batchSize) / Double(max(count, 1))) }

    /// Steps in `epochs` passes at rate q: epochs · round(1/q), at least one per epoch.
    public static func steps(epochs: Int, sampleRate q: Double) -> Int { epochs * max(1, Int((1 / q).rounded())) }

    /// What one training run did.
    public struct Report: Sendable, Equatable {
        public var steps: Int
        public var sampleRate: Double
        /// Examples drawn over all steps.
        public var examples: Int
        /// Mean per-example gradient norm before clipping, and the fraction clipped.
        public var meanGradientNorm: Double
        public var clippedFraction: Double
        public var meanLoss: Double
    }

    /// The clipped per-example gradients of `examples` (flattened over the model's trainable
    /// parameters in order) summed, with each example's norm before clipping.
    public func clippedGradientSum(model: Sequential, examples: LabelledData) throws -> (sum: [Float], norms: [Double], loss: Double) {
        let trainable = model.trainableParameters
        let length = trainable.reduce(0) { $0 + $1.value.count }
        var sum = [Float](repeating: 0, count: length)
        var norms: [Double] = [], loss = 0.0
        let clipper = DeltaClipper(clipNorm: clipNorm)
        for i in 0..<examples.count {
            let one = examples.subset([i])
            model.zeroGrad()
            let logits = model.forward(one.inputs, mode: .evaluation)
            // Regression targets train with MSE here (the per-example clipping bounds any loss).
            let l = one.targets.map { RegressionLoss.mse.evaluate(output: logits.reshaped($0.shape), target: $0) }
                ?? Loss.softmaxCrossEntropy(logits: logits, labels: one.labels)
            guard l.value.isFinite else { throw TrainingError("DP-SGD: the loss of an example became \(l.value): lower the learning rate") }
            loss += Double(l.value)
            model.backward(l.gradient.reshaped(logits.shape))
            var g: [Float] = []
            g.reserveCapacity(length)
            for p in trainable { g += p.grad.data }
            norms.append(try clipper.clip(&g))
            for k in 0..<length { sum[k] += g[k] }
        }
        return (sum, norms, loss)
    }

    /// Trains `model` for `steps` DP-SGD steps at rate q on `data`, stepping `optimizer`;
    /// `prox` (FedProx) adds its gradient after the noise. Sampling draws from `random` (the
    /// system CSPRNG in real runs: the sample must stay secret), noise from `noise`.
    /// - Throws: `TrainingError` when `data` does not fit `model` (`Trainer.check`), or a loss
    ///   becomes non-finite.
    public func train(model: Sequential, optimizer: Optimizer, data: LabelledData, steps: Int, sampleRate q: Double,
                      noise: inout GaussianNoise, random: CryptoRandom, prox: L2SP? = nil) throws -> Report {
        precondition(q > 0 && q <= 1, "DP-SGD sampling rate must be in (0, 1]")
        // The model may come from the coordinator: its outputs must fit this site's labels or
        // targets before any example is reshaped against them.
        try Trainer.check(data, fits: model, role: "DP-SGD training")
        let trainable = model.trainableParameters
        let expectedBatch = q * Double(data.count)
        let sd = noiseMultiplier * clipNorm
        var examples = 0, clipped = 0, normSum = 0.0, lossSum = 0.0
        for _ in 0..<steps {
            let chosen = (0..<data.count).filter { _ in random.unitIntervalOpenAtZero() <= q }
            var (sum, norms, loss) = try clippedGradientSum(model: model, examples: data.subset(chosen))
            examples += chosen.count
            clipped += norms.filter { $0 > clipNorm }.count
            normSum += norms.reduce(0, +)
            lossSum += loss
            noise.add(standardDeviation: sd, to: &sum)
            let scale = Float(1 / expectedBatch)
            var offset = 0
            for p in trainable {
                for k in 0..<p.grad.count { p.grad.data[k] = sum[offset + k] * scale }
                offset += p.grad.count
            }
            prox?.addGradient(to: model.parameters)
            optimizer.step(learningRateScale: 1)
        }
        model.zeroGrad()
        let n = Double(max(examples, 1))
        return Report(steps: steps, sampleRate: q, examples: examples, meanGradientNorm: normSum / n,
                      clippedFraction: Double(clipped) / n, meanLoss: lossSum / n)
    }
}
