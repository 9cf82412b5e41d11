import CohortData

/// The statistics round's messages (protocols/wire.md, "Statistics round"): STATS_REQUEST
/// (coordinator → node), STATS (node → coordinator), PREPROCESSING (coordinator → node).
public enum StatisticsMessages {
    /// STATS_REQUEST payload (JSON): how many points each numeric column's sketch may have.
    public struct Request: Codable, Sendable {
        public var sketchSize: Int
        public init(sketchSize: Int) { self.sketchSize = sketchSize }
    }

    /// STATS header (`RoundMessages.payload` framing; the body is `SiteStatistics` JSON): the
    /// schema the node read its rows with (without `found`).
    public struct ReplyHeader: Codable, Sendable {
        public var schema: DatasetSchema
        public init(schema: DatasetSchema) { self.schema = schema }
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
