import CohortNN
import Foundation

/// Poisson sampling and adaptive clipping in private rounds (protocols/privacy.md, "Sampling"
/// and "Adaptive clipping").
///
/// With `privacy.sampleRate` q, every node of the population (the nodes of the secrets file,
/// N of them, public) takes part in a round independently with probability q; sampled nodes
/// that are not connected contribute nothing. The round is released whoever was sampled — with
/// nobody, as a noise-only step — and its mean has the fixed denominator q·N, so a node's
/// presence in the sample changes the output only through its own clipped update. The
/// accountant is stepped with q.
///
/// With `privacy.adaptiveClipping`, the round's C travels in the plan, each node's `clipped`
/// metric gives its bit (b = 1 when its norm before clipping was ≤ C), and after the round the
/// coordinator moves C with `AdaptiveClipping` on the noised sum of the centred bits. The
/// update's noise multiplier is raised to z_Δ so the pair spends what one Gaussian mechanism of
/// multiplier z (the plan's σ, accounted) would.
extension Coordinator {
    /// The q private rounds are accounted with: the plan's Poisson rate, or 1 for the fixed fraction.
    static func accountedSampleRate(_ privacy: PrivacyPlan) -> Double { privacy.sampleRate ?? fixedFractionSampleRate }

    /// The population Poisson sampling draws from: every node the coordinator knows, by name.
    var population: [String] { config.secrets.keys.sorted() }

    /// Refuses settings that cannot be run: a fixed fraction together with Poisson sampling, and
    /// a count noise too small for z with the fewest reports a round can expect (q·N under
    /// Poisson sampling; otherwise the smallest round the run may hold, the quorum or `minNodes`,
    /// where the default σ_b = m/20 is smallest), so no round fails on it mid-run.
    static func checkSampling(_ privacy: PrivacyPlan, config: Config) throws {
        if privacy.sampleRate != nil, config.fraction < 1 {
            throw AggregationError("privacy.sampleRate (Poisson sampling) replaces the fixed fraction of nodes; leave the fraction at 1")
        }
        if let adaptive = privacy.adaptiveClipping {
            let smallestRound = max(1, min(config.minNodes, config.quorum ?? config.minNodes))
            let m = privacy.sampleRate.map { Double(config.secrets.count) * $0 } ?? Double(smallestRound)
            _ = try adaptiveNoise(privacy, adaptive, expectedReports: m)
        }
    }

    /// σ_b and z_Δ for a round expecting `m` reports; the error names the plan fields.
    static func adaptiveNoise(_ privacy: PrivacyPlan, _ adaptive: AdaptiveClippingPlan, expectedReports m: Double) throws -> (sigmaB: Double, zDelta: Double) {
        let sigmaB = adaptive.countNoiseStandardDeviation(expectedReports: m)
        do {
            return (sigmaB, try AdaptiveClipping.deltaNoiseMultiplier(total: privacy.noiseMultiplier!, countNoiseStandardDeviation: sigmaB))
        } catch {
            throw AggregationError("plan: privacy.adaptiveClipping.countNoise: \(error)"
                                   + (adaptive.countNoise == nil ? " (the default σ_b = m/20 with m = \(format(m)) expected reports; set countNoise)" : ""))
        }
    }

    /// Randomness of `purpose` in `round`: OpenSSL's CSPRNG, or with `config.noiseSeed` a stream
    /// keyed by (seed, purpose, round), so a resumed run draws what an uninterrupted one would.
    func roundRandom(_ round: Int, _ purpose: String) -> CryptoRandom {
        config.noiseSeed.map { CryptoRandom(seed: $0, label: purpose, index: round) } ?? .system()
    }

    /// Under Poisson sampling: the connected sampled nodes, and the sampled ones not connected.
    /// Nil without `privacy.sampleRate`.
    func privateSample(_ connected: [Session], round: Int) -> (participants: [Session], offline: [String])? {
        guard let q = plan.privacy?.sampleRate else { return nil }
        let sampled = PoissonSampling.sample(population, rate: q, random: roundRandom(round, "poisson-sample"))
        let chosen = Set(sampled)
        let present = Set(connected.map(\.name))
        return (connected.filter { chosen.contains($0.name) }, sampled.filter { !present.contains($0) })
    }

    /// The plan sent this round: under adaptive clipping, with the round's C.
    var roundPlan: TrainingPlan {
        var p = plan
        if p.privacy?.adaptiveClipping != nil { p.privacy!.clipNorm = clipNorm }
        return p
    }

    /// What a round under adaptive clipping needs after aggregation.
    struct AdaptiveRound {
        let settings: AdaptiveClippingPlan
        let expectedReports: Double
        let sigmaB: Double
        let zDelta: Double
    }

    /// Sets DP-FedAvg up for a round of `participants` sampled nodes (denominator, C, noise
    /// multiplier, noise stream); returns the adaptive-clipping settings when they apply.
    func prepareDPRound(_ round: Int, participants: Int) throws -> AdaptiveRound? {
        guard let privacy = plan.privacy, let dp = strategy as? DPFedAvg else { return nil }
        dp.participants = participants
        dp.expectedParticipants = privacy.sampleRate.map { $0 * Double(population.count) }
        dp.noise = GaussianNoise(random: roundRandom(round, "update-noise"))
        dp.clipNorm = clipNorm
        guard let adaptive = privacy.adaptiveClipping else { return nil }
        let m = dp.expectedParticipants ?? Double(max(participants, 1))
        let (sigmaB, zDelta) = try Self.adaptiveNoise(privacy, adaptive, expectedReports: m)
        dp.noiseMultiplier = zDelta
        return AdaptiveRound(settings: adaptive, expectedReports: m, sigmaB: sigmaB, zDelta: zDelta)
    }

    /// After a round's aggregation: moves C by the noised count of the accepted nodes' `bits`
    /// (true: unclipped), records the round's C, the next C, b̄ and z_Δ, and returns the log note.
    func finishAdaptiveClipping(_ round: Int, _ adaptive: AdaptiveRound, bits: [Bool], record: inout RoundRecord) throws -> String {
        var clipping = AdaptiveClipping(initialClipNorm: clipNorm, targetQuantile: adaptive.settings.targetQuantile,
                                        learningRate: adaptive.settings.learningRate, countNoiseStandardDeviation: adaptive.sigmaB)
        var noise = GaussianNoise(random: roundRandom(round, "clip-count-noise"))
        let fraction = clipping.update(centredBitSum: bits.filter { $0 }.count, reports: bits.count, expectedReports: adaptive.expectedReports, noise: &noise)
        return moveClipNorm(adaptive.settings, noisyFraction: fraction, updateNoiseMultiplier: adaptive.zDelta, record: &record)
    }

    /// Moves C by the noisy unclipped fraction b̄ (C ← C · exp(−η (b̄ − γ))), records this round's
    /// C, the next C, b̄ and z_Δ, and returns the log note. Secure rounds call it with the b̄
    /// read from the masked sum.
    func moveClipNorm(_ settings: AdaptiveClippingPlan, noisyFraction fraction: Double, updateNoiseMultiplier zDelta: Double, record: inout RoundRecord) -> String {
        var clipping = AdaptiveClipping(initialClipNorm: clipNorm, targetQuantile: settings.targetQuantile,
                                        learningRate: settings.learningRate, countNoiseStandardDeviation: 0)
        clipping.update(noisyFraction: fraction)
        record.clipNorm = clipNorm
        record.nextClipNorm = clipping.clipNorm
        record.unclippedFraction = fraction
        record.updateNoiseMultiplier = zDelta
        let note = ", C = \(Self.format(clipNorm)) → \(Self.format(clipping.clipNorm)) (noisy unclipped fraction \(Self.format(fraction)), z_Δ = \(Self.format(zDelta)))"
        clipNorm = clipping.clipNorm
        return note
    }
}
