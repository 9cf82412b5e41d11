import Foundation

extension Coordinator {
    /// One completed round, as written to `rounds.jsonl`.
    public struct RoundRecord: Codable, Sendable {
        public var round: Int
        public var participants: [String]
        public var accepted: [String]
        public var rejected: [String: String]
        /// Sample-weighted validation accuracy of the global model each node received.
        public var globalValidationAccuracy: Double?
        public var nodeMetrics: [String: [String: Double]]
        public var bytesDown: Int
        /// How many participants got their MODEL as a delta from their last version (the rest got the whole model).
        public var deltaModels: Int? = nil
        public var bytesUp: Int
        public var seconds: Double
        /// When the round completed (Unix time, seconds).
        public var finishedAt: Double
        /// Under `plan.privacy`: ε spent by the run up to and including this round, at `delta`.
        public var epsilon: Double?
        /// Under `plan.privacy`: the δ of `epsilon`.
        public var delta: Double?
        /// Under `plan.privacy`: σ of this round's noise (the accountant is rebuilt from these on resume).
        public var noiseMultiplier: Double?
        /// Under `plan.privacy`: the sampling rate q this round was accounted with (1 without
        /// `privacy.sampleRate`: see protocols/privacy.md, "Sampling").
        public var sampleRate: Double?
        /// Under `plan.privacy`: the fixed denominator of the mean (q·N under Poisson sampling,
        /// else the number of nodes sampled).
        public var denominator: Double?
        /// Under `privacy.adaptiveClipping`: C of this round, the C it moved to for the next
        /// round (resume continues with it), the noisy fraction b̄ of unclipped updates, and the
        /// update's own noise multiplier z_Δ (`noiseMultiplier` is the total z, accounted).
        public var clipNorm: Double?
        public var nextClipNorm: Double?
        public var unclippedFraction: Double?
        public var updateNoiseMultiplier: Double?
        /// Under `plan.secureAggregation`: the round's threshold t (`accepted` are the survivors whose inputs were summed).
        public var secureAggregationThreshold: Int?
        /// Set when the round released something (the survivors of its secure aggregation were
        /// announced, or its record was journaled) but its result was not applied to the model:
        /// why. The round stays accounted and is not run again (protocols/privacy.md, "Release point").
        public var unapplied: String?
        /// Nodes dropped since the previous record (during this round, or a failed attempt at
        /// it): which, when and why. Absent when none were.
        public var dropped: [NodeDrop]? = nil
        /// Under `plan.screening` or the default norm guard: what screening did to each update it changed or left out
        /// (clipped, rejected, weight capped), by node. Absent when it kept every update as sent.
        public var screening: [String: String]? = nil
        /// Under the default norm guard (`TrainingPlan.usesDefaultNormGuard`): the round's bound,
        /// each whole update's norm and their median (the next round's reference; `--resume`
        /// takes it from here). Updates the guard left out or cut off are in `rejected` and `screening`.
        public var normGuard: NormGuardRecord? = nil
        /// Metrics a node reported that were left out (not finite, out of range), by node.
        public var invalidMetrics: [String: [String]]? = nil
        /// True when the coordinator drew this round's DP noise, Poisson sample and clipping-count
        /// noise from a test seed (`--test-noise-seed`): anyone who knows the seed can subtract
        /// the noise, so the round's ε does not hold. Absent otherwise.
        public var testNoiseSeeded: Bool? = nil
    }
}
