import CohortData

/// How the sites' tabular preprocessing is fitted (plan key `preprocessing`; protocols/wire.md,
/// "Statistics round", and protocols/dataset-schema.md, "Federated statistics").
public struct PreprocessingPlan: Codable, Equatable, Sendable {
    /// Where the statistics come from.
    public enum Fit: String, Codable, Sendable {
        /// Each node fits on its own training rows (the default without a `preprocessing` key).
        case local
        /// A statistics round before round 1: the coordinator merges every node's statistics,
        /// fits once and ships the fit, which every node applies and the model's checkpoint carries.
        case federated
    }

    /// Which centre and scale standardise numeric columns under a federated fit.
    public enum Normalise: String, Codable, Sendable {
        /// The federated fit's (pooled mean and standard deviation).
        case global
        /// Each site's own mean and standard deviation (the tabular analogue of FedBN); fills
        /// and categories stay the federated fit's.
        case perSite = "per-site"
    }

    public var fit: Fit = .local
    public var normalise: Normalise = .global
    /// Points of each numeric column's quantile sketch (medians are exact while a site has at
    /// most this many distinct values in a column).
    public var sketchSize = QuantileSketch.defaultCapacity

    public init(fit: Fit = .local, normalise: Normalise = .global, sketchSize: Int = QuantileSketch.defaultCapacity) {
        self.fit = fit
        self.normalise = normalise
        self.sketchSize = sketchSize
    }

    private enum CodingKeys: String, CodingKey { case fit, normalise, sketchSize }

    /// Decodes a plan section; a key left out keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fit = try c.decodeIfPresent(Fit.self, forKey: .fit) ?? .local
        normalise = try c.decodeIfPresent(Normalise.self, forKey: .normalise) ?? .global
        sketchSize = try c.decodeIfPresent(Int.self, forKey: .sketchSize) ?? QuantileSketch.defaultCapacity
    }

    /// Checks the section; errors name the field.
    public func validate() throws {
        guard (16...QuantileSketch.maxCapacity).contains(sketchSize) else {
            throw AggregationError("plan: preprocessing.sketchSize must be in 16...\(QuantileSketch.maxCapacity), got \(sketchSize)")
        }
        guard normalise == .global || fit == .federated else {
            throw AggregationError("plan: preprocessing.normalise 'per-site' needs fit 'federated' (a local fit is already per site)")
        }
    }
}
