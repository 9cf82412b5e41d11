import CohortCheckpoint
import CohortNN
import CohortTensor

/// How a node turns its update into the fixed-point words it masks under secure aggregation,
/// and how the coordinator reads the unmasked sum back. Node and coordinator derive it from the
/// same plan, architecture and round assignment, so they agree without sending it.
///
/// A node's words: the update flattened in `layout` order, clipped to L2 norm `clipNorm` minus
/// the fixed-point rounding slack (so the rounded vector's norm is ≤ C), multiplied by the
/// node's weight (its share of the round's samples; 1 under privacy), plus N(0, s²) per
/// coordinate under distributed DP, then `FixedPointEncoding` with range C + 10·s and
/// `participants` summands (no sum of the round's words can wrap).
///
/// Under adaptive clipping (`privacy.adaptiveClipping`) the vector has one more word: the node's
/// centred clipping bit b − ½ (b = 1 when its norm before clipping was ≤ C) times κ = z_Δ·C/σ_b,
/// noised like the update's words, so the coordinator never learns a node's bit: under
/// distributed DP only the noised count (σ_b on Σ (b − ½) once scaled back); under central DP
/// the survivors' exact count, which it noises itself (as it sees the exact update sum). σ_b follows from the plan for
/// m = `participants` expected reports, z_Δ from σ and σ_b (`AdaptiveClipping`).
public struct SecureUpdateEncoding: Sendable {
    /// The tensors of the vector, in the model's state order.
    public let names: [String]
    public let shapes: [String: [Int]]
    /// L: words per vector.
    public let length: Int
    /// C, the sensitivity of one update.
    public let clipNorm: Double
    /// What updates are actually clipped to: C minus the fixed-point slack 0.5·√L / scale.
    public let effectiveClipNorm: Double
    /// s: the noise each node adds per coordinate (distributed DP: σC/√t; otherwise 0).
    public let nodeNoiseStandardDeviation: Double
    public let fixedPoint: FixedPointEncoding
    /// Under privacy every update weighs 1 (DP-FedAvg); otherwise by samples.
    public let equalWeights: Bool
    /// The update's noise multiplier: σ, or z_Δ under adaptive clipping; nil without privacy.
    public let noiseMultiplier: Double?
    /// Under adaptive clipping: κ, the scale of the centred bit in the last word; else nil.
    public let countScale: Double?

    /// Noise standard deviations the fixed-point range covers beyond C: a value is clamped with
    /// probability 2Φ(−10) ≈ 1.5·10⁻²³.
    public static let noiseMargin = 10.0

    /// The encoding of a round with `participants` nodes and threshold `threshold`.
    public init(plan: TrainingPlan, architecture: ModelSpec, participants: Int, threshold: Int) throws {
        guard let secure = plan.secureAggregation else { throw AggregationError("the plan has no secureAggregation section") }
        guard participants >= 1, threshold >= 1 else { throw AggregationError("secure aggregation needs participants and a threshold ≥ 1") }
        let model = try Sequential(spec: architecture, seed: 0)
        let sent = plan.sentTensorNames(of: model)
        var names: [String] = [], shapes: [String: [Int]] = [:]
        for (name, value) in model.stateDict() where sent.contains(name) {
            names.append(name)
            shapes[name] = value.shape
        }
        self.names = names
        self.shapes = shapes
        equalWeights = plan.privacy != nil
        clipNorm = plan.privacy?.clipNorm ?? secure.clipNorm
        var multiplier = plan.privacy?.noiseMultiplier
        var scale: Double? = nil
        if let privacy = plan.privacy, let adaptive = privacy.adaptiveClipping {
            guard let z = privacy.noiseMultiplier else { throw AggregationError("adaptive clipping needs the noise multiplier filled in") }
            let sigmaB = adaptive.countNoiseStandardDeviation(expectedReports: Double(participants))
            do { multiplier = try AdaptiveClipping.deltaNoiseMultiplier(total: z, countNoiseStandardDeviation: sigmaB) } catch {
                throw AggregationError("plan: privacy.adaptiveClipping.countNoise: \(error)")
            }
            scale = multiplier! * clipNorm / sigmaB
        }
        noiseMultiplier = multiplier
        countScale = scale
        length = names.reduce(0) { $0 + shapes[$1]!.reduce(1, *) } + (scale == nil ? 0 : 1)
        if let privacy = plan.privacy, privacy.mode == .distributed {
            guard let sigma = multiplier else { throw AggregationError("distributed DP needs the noise multiplier filled in") }
            // Noise for the fewest nodes a round can be summed over, so every successful round
            // carries at least σC (see protocols/privacy.md, distributed DP).
            nodeNoiseStandardDeviation = GaussianNoise.distributedStandardDeviation(noiseMultiplier: sigma, clipNorm: clipNorm, nodes: threshold)
        } else {
            nodeNoiseStandardDeviation = 0
        }
        do {
            let largest = max(clipNorm, (scale ?? 0) / 2)
            fixedPoint = try FixedPointEncoding(range: Float(largest + Self.noiseMargin * nodeNoiseStandardDeviation), maxSummands: participants)
        } catch {
            throw AggregationError("secure aggregation: \(error)")
        }
        let slack = fixedPoint.l2Slack(dimension: length)
        guard slack < clipNorm / 2 else {
            throw AggregationError("secure aggregation: fixed-point rounding (\(slack)) is too coarse for clip norm \(clipNorm) with \(participants) nodes and \(length) values")
        }
        effectiveClipNorm = clipNorm - slack
    }

    /// The words one node masks: its delta (exactly the layout's tensors) flattened, clipped,
    /// weighted, noised (distributed DP) and encoded. Also returns the norm before clipping.
    public func words(for delta: ModelDelta, weight: Double, noise: inout GaussianNoise) throws -> (words: [UInt32], preClipNorm: Double) {
        guard Set(delta.names) == Set(names) else {
            throw AggregationError("secure aggregation: the update's tensors \(delta.names.sorted()) are not the round's \(names.sorted())")
        }
        guard weight > 0, weight <= 1 else { throw AggregationError("secure aggregation: weight \(weight) is outside (0, 1]") }
        var flat: [Float] = []
        flat.reserveCapacity(length)
        for name in names {
            let t = delta[name]!
            guard t.shape == shapes[name] else { throw AggregationError("secure aggregation: '\(name)' has shape \(t.shape), expected \(shapes[name]!)") }
            flat += t.data
        }
        let norm = try DeltaClipper(clipNorm: effectiveClipNorm).clip(&flat)
        // The clipping bit goes after clipping, outside the update's norm.
        if let countScale { flat.append(Float(countScale * (norm <= clipNorm ? 0.5 : -0.5))) }
        if weight != 1 {
            let w = Float(weight)
            for i in flat.indices { flat[i] *= w }
        }
        if nodeNoiseStandardDeviation > 0 { noise.add(standardDeviation: nodeNoiseStandardDeviation, to: &flat) }
        return (fixedPoint.encode(flat), norm)
    }

    /// Under adaptive clipping: the survivors' Σ (b − ½) with its noise, read from the sum's last
    /// word (plus N(0, `centralNoise`²) in the word's units under central DP, i.e. σ_b when
    /// `centralNoise` = z_Δ·C) and scaled back by κ. Nil without adaptive clipping.
    public func centredBitSum(sum: [UInt32], centralNoise: Double, noise: inout GaussianNoise) throws -> Double? {
        guard let countScale else { return nil }
        guard sum.count == length else { throw AggregationError("secure aggregation: the sum has \(sum.count) words, expected \(length)") }
        var value = fixedPoint.decode(sum: [sum[length - 1]])
        if centralNoise > 0 { noise.add(standardDeviation: centralNoise, to: &value) }
        return Double(value[0]) / countScale
    }

    /// The unmasked sum, decoded, with N(0, `centralNoise`²) added per coordinate (central DP;
    /// 0 for none), divided by `divisor`, as tensors by name.
    public func mean(sum: [UInt32], divisor: Double, centralNoise: Double, noise: inout GaussianNoise) throws -> [String: Tensor] {
        guard sum.count == length else { throw AggregationError("secure aggregation: the sum has \(sum.count) words, expected \(length)") }
        guard divisor > 0 else { throw AggregationError("secure aggregation: divisor must be positive") }
        var values = fixedPoint.decode(sum: sum)
        if centralNoise > 0 { noise.add(standardDeviation: centralNoise, to: &values) }
        let inv = 1 / divisor
        var out: [String: Tensor] = [:]
        var offset = 0
        for name in names {
            let shape = shapes[name]!, n = shape.reduce(1, *)
            out[name] = Tensor(shape: shape, data: values[offset..<(offset + n)].map { Float(Double($0) * inv) })
            offset += n
        }
        return out
    }
}
