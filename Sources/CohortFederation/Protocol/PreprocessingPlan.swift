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
    /// Under `privacy`: public bounds [lo, hi] of every numeric column (values are clipped to
    /// them), by column name. Required for each numeric feature of the schema; public, so they
    /// must not come from the sites' data (protocols/privacy.md, "The statistics round").
    public var bounds: [String: [Double]]? = nil
    /// Under `privacy`: σ of the statistics release (noise σ·S on the sum of the sites' vectors);
    /// nil: the rounds' `privacy.noiseMultiplier`.
    public var noiseMultiplier: Double? = nil

    public init(fit: Fit = .local, normalise: Normalise = .global, sketchSize: Int = QuantileSketch.defaultCapacity,
                bounds: [String: [Double]]? = nil, noiseMultiplier: Double? = nil) {
        self.fit = fit
        self.normalise = normalise
        self.sketchSize = sketchSize
        self.bounds = bounds
        self.noiseMultiplier = noiseMultiplier
    }

    private enum CodingKeys: String, CodingKey { case fit, normalise, sketchSize, bounds, noiseMultiplier }

    /// Decodes a plan section; a key left out keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fit = try c.decodeIfPresent(Fit.self, forKey: .fit) ?? .local
        normalise = try c.decodeIfPresent(Normalise.self, forKey: .normalise) ?? .global
        sketchSize = try c.decodeIfPresent(Int.self, forKey: .sketchSize) ?? QuantileSketch.defaultCapacity
        bounds = try c.decodeIfPresent([String: [Double]].self, forKey: .bounds)
        noiseMultiplier = try c.decodeIfPresent(Double.self, forKey: .noiseMultiplier)
    }

    /// Checks the section; errors name the field.
    public func validate() throws {
        guard (16...QuantileSketch.maxCapacity).contains(sketchSize) else {
            throw AggregationError("plan: preprocessing.sketchSize must be in 16...\(QuantileSketch.maxCapacity), got \(sketchSize)")
        }
        guard normalise == .global || fit == .federated else {
            throw AggregationError("plan: preprocessing.normalise 'per-site' needs fit 'federated' (a local fit is already per site)")
        }
        for (name, b) in (bounds ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard b.count == 2, b[0].isFinite, b[1].isFinite, b[0] < b[1] else {
                throw AggregationError("plan: preprocessing.bounds['\(name)'] must be [lo, hi] with finite lo < hi, got \(b)")
            }
        }
        if let sigma = noiseMultiplier {
            guard sigma > 0, sigma.isFinite else { throw AggregationError("plan: preprocessing.noiseMultiplier must be positive and finite, got \(sigma)") }
        }
    }
}
