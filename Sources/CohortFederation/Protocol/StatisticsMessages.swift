import CohortData

/// The statistics round's messages (protocols/wire.md, "Statistics round"): STATS_REQUEST
/// (coordinator → node), STATS (node → coordinator), PREPROCESSING (coordinator → node).
public enum StatisticsMessages {
    /// STATS_REQUEST payload (JSON): how many points each numeric column's sketch may have.
    public struct Request: Codable, Sendable {
        public var sketchSize: Int
        /// Under `plan.secureAggregation`: the node's part in the masked sum of the additive
        /// statistics (absent: the node sends its statistics in the clear).
        public var secure: SecureAssignment?
        public init(sketchSize: Int, secure: SecureAssignment? = nil) {
            self.sketchSize = sketchSize
            self.secure = secure
        }
    }

    /// A node's part in the statistics round's secure aggregation: the four steps of
    /// protocols/secure-aggregation.md over its additive statistics (`StatisticsFixedPoint`).
    public struct SecureAssignment: Codable, Sendable, Equatable {
        /// The secure-aggregation session (`StatisticsRound.secureSession`: no model round uses it).
        public var session: UInt64
        /// The node's id (as in model rounds).
        public var node: UInt32
        /// t.
        public var threshold: Int
        /// n: nodes asked.
        public var participants: Int
        /// The plan's section, so the node checks t against it as in a model round.
        public var plan: SecureAggregationPlan
        /// Under `plan.privacy`: the node sends `PrivateStatistics` (bounded, normalised)
        /// instead of its additive statistics, with its share of the noise in distributed mode.
        public var privacy: PrivateRelease?

        public init(session: UInt64, node: UInt32, threshold: Int, participants: Int, plan: SecureAggregationPlan, privacy: PrivateRelease? = nil) {
            self.session = session; self.node = node; self.threshold = threshold
            self.participants = participants; self.plan = plan; self.privacy = privacy
        }
    }

    /// The statistics round's differential privacy (protocols/privacy.md, "The statistics round").
    public struct PrivateRelease: Codable, Sendable, Equatable {
        /// σ: the sum of the sites' vectors gets noise σ·S (S = `PrivateStatistics.sensitivity`).
        public var noiseMultiplier: Double
        /// Central: the coordinator adds the noise after unmasking; distributed: each node adds
        /// σ·S/√t before masking.
        public var mode: PrivacyPlan.Mode
        /// The public bounds of every numeric column.
        public var bounds: [String: [Double]]

        public init(noiseMultiplier: Double, mode: PrivacyPlan.Mode, bounds: [String: [Double]]) {
            self.noiseMultiplier = noiseMultiplier; self.mode = mode; self.bounds = bounds
        }
    }

    /// STATS header (`RoundMessages.payload` framing; the body is `SiteStatistics` JSON): the
    /// schema the node read its rows with (without `found`).
    public struct ReplyHeader: Codable, Sendable {
        public var schema: DatasetSchema
        /// True when the statistics follow masked (secure aggregation): the body is empty.
        public var secure: Bool?
        public init(schema: DatasetSchema, secure: Bool? = nil) {
            self.schema = schema
            self.secure = secure
        }
    }

    /// PREPROCESSING payload (JSON): the fit every node applies, and whether numeric columns
    /// are standardised with the site's own mean and standard deviation instead.
    public struct Fitted: Codable, Sendable {
        public var preprocessing: FittedPreprocessing
        public var normalise: PreprocessingPlan.Normalise
        public init(preprocessing: FittedPreprocessing, normalise: PreprocessingPlan.Normalise) {
            self.preprocessing = preprocessing
            self.normalise = normalise
        }
    }
}
