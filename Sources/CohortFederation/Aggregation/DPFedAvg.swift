import CohortCheckpoint
import CohortTensor

/// Central DP-FedAvg (McMahan et al. 2018, "Learning differentially private recurrent language
/// models"): the new global model is
///
///     global + (Σ clip_C(Δ_k) + N(0, (σC)² I)) / n,
///
/// with equal weights (sample counts are ignored: a sample-weighted mean would let one node move
/// the model by more than C/n) and a **fixed denominator** n = the number of nodes sampled for
/// the round (`participants`; under Poisson sampling the expected number q·N, `expectedParticipants`), not the number whose update arrived, so a dropped or rejected
/// node only removes its term and the sensitivity of the mean stays C/n. Every update is clipped
/// again here to C (the node already clipped it; this also bounds quantisation slack and a
/// misbehaving node exactly). The noise goes on every coordinate of every tensor that any update
/// of the round carries (the tensor set follows from the plan, not from the data); it is drawn by
/// `GaussianNoise` in sorted tensor order.
///
/// With `localNames` (FedBN) those tensors are dropped from the updates before anything else.
public final class DPFedAvg: AggregationStrategy {
    public let name = "dp-fedavg"
    /// C (the coordinator moves it between rounds under adaptive clipping).
    public var clipNorm: Double
    /// σ of the update's noise (under adaptive clipping, z_Δ of `AdaptiveClipping.deltaNoiseMultiplier`).
    public var noiseMultiplier: Double
    /// Tensors that stay at the nodes (FedBN's BatchNorm tensors); empty for FedAvg.
    public let localNames: Set<String>
    /// n: the denominator of the next round's mean, set by the coordinator to the number of nodes
    /// it sampled before `begin`.
    public var participants = 1
    /// Under Poisson sampling: the fixed denominator q·N (the expected number of participants),
    /// used instead of `participants` when set.
    public var expectedParticipants: Double?
    /// Tensors noised every round even when no accepted update carries them (the tensors the
    /// plan has nodes send). With them, a round in which no update arrived still releases a
    /// noise-only step instead of failing (Poisson sampling may sample nobody).
    public var noisedNames: Set<String> = []
    /// Where the noise comes from (set per round for reproducible simulations).
    public var noise: GaussianNoise
    private var global: [String: Tensor] = [:]
    private var sums: [String: [Float]] = [:]
    private var count = 0
    /// The denominator of the current round's mean.
    public private(set) var denominator = 1.0
    /// Pre-clip norms of this round's updates as received (after decoding), in arrival order.
    public private(set) var receivedNorms: [Double] = []

    /// A strategy clipping to `clipNorm` and adding σC noise to the sum; `noise` defaults to
    /// OpenSSL's CSPRNG (pass `.seeded` only for reproducible simulations and tests).
    public init(clipNorm: Double, noiseMultiplier: Double, localNames: Set<String> = [], noise: GaussianNoise = .secure()) {
        precondition(clipNorm > 0 && clipNorm.isFinite, "clip norm must be positive and finite")
        precondition(noiseMultiplier >= 0 && noiseMultiplier.isFinite, "noise multiplier must be finite and ≥ 0")
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
        self.localNames = localNames
        self.noise = noise
    }

    /// Standard deviation of the noise on each coordinate of the mean: σC/n.
    public var meanNoiseStandardDeviation: Double {
        GaussianNoise.centralStandardDeviation(noiseMultiplier: noiseMultiplier, clipNorm: clipNorm) / (expectedParticipants ?? Double(max(participants, 1)))
    }

    public func begin(round: Int, global: [String: Tensor]) {
        precondition(expectedParticipants.map { $0 > 0 } ?? (participants >= 1), "DP-FedAvg needs a positive denominator")
        self.global = global
        sums = Dictionary(uniqueKeysWithValues: noisedNames.compactMap { name in global[name].map { (name, [Float](repeating: 0, count: $0.count)) } })
        count = 0
        receivedNorms = []
        denominator = expectedParticipants ?? Double(participants)
    }

    public func accumulate(_ delta: ModelDelta, samples: Int) throws {
        let shared = localNames.isEmpty ? delta : try ModelDelta(delta.entries.filter { !localNames.contains($0.name) })
        try validate(shared, samples: samples, against: global)
        let (clipped, norm) = try DeltaClipper(clipNorm: clipNorm).clip(shared)
        for name in clipped.names {
            let t = clipped[name]!
            if sums[name] == nil { sums[name] = [Float](repeating: 0, count: t.count) }
            t.data.withUnsafeBufferPointer { src in
                sums[name]!.withUnsafeMutableBufferPointer { dst in for i in 0..<dst.count { dst[i] += src[i] } }
            }
        }
        receivedNorms.append(norm)
        count += 1
    }

    public var updateCount: Int { count }

    /// Floor for noised BatchNorm running variances (`*.running_var`).
    public static let minimumVariance: Float = 1e-3

    public func finish() throws -> [String: Tensor] {
        guard count > 0 || !sums.isEmpty else { throw AggregationError("\(name): no update was accepted this round") }
        let sd = GaussianNoise.centralStandardDeviation(noiseMultiplier: noiseMultiplier, clipNorm: clipNorm)
        let inv = 1 / denominator
        var next = global
        for name in sums.keys.sorted() {
            var s = sums[name]!
            noise.add(standardDeviation: sd, to: &s)
            let g = global[name]!
            var out = g.data
            for i in 0..<out.count { out[i] = Float(Double(out[i]) + Double(s[i]) * inv) }
            // Noise can push a BatchNorm running variance below zero (NaN activations); clamping
            // is post-processing of the noised aggregate, so the guarantee is unchanged.
            if name.hasSuffix(".running_var") { for i in 0..<out.count { out[i] = max(out[i], Self.minimumVariance) } }
            next[name] = Tensor(shape: g.shape, data: out)
        }
        sums = [:]
        return next
    }
}
