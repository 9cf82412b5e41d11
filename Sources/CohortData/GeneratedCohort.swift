/// One generated site in memory: its plan, the parameters of its domain shift, and its data.
public struct GeneratedSite: Sendable {
    /// Name, role, sizes and configured prevalence.
    public var plan: SyntheticSitePlan
    /// The site's scanner (imaging) or population and assay calibration (tabular) parameters,
    /// as a flat name → number dictionary.
    public var parameters: [String: Double]
    /// Training data: labelled samples, and unlabelled ones at the sparse-label hospital.
    public var train: SiteData
    /// Labelled validation data (the source only).
    public var validation: SiteData?
    /// Labelled held-out test data, same domain and prevalence as `train` (hospitals only).
    public var test: SiteData?
}

/// A whole synthetic cohort in memory, as `SyntheticCohort.generate` returns it.
public struct GeneratedCohort: Sendable {
    /// The settings it was generated from.
    public var config: SyntheticCohortConfig
    /// Number of classes.
    public var classes: Int
    /// Class names, one per class.
    public var classNames: [String]
    /// Shape of one sample (`[1, 32, 32]` or `[10]`).
    public var sampleShape: [Int]
    /// Feature names (tabular only).
    public var featureNames: [String]?
    /// The source first, then `hospital-1` … `hospital-N`.
    public var sites: [GeneratedSite]

    /// The site named `name`, if any.
    public func site(named name: String) -> GeneratedSite? { sites.first { $0.plan.name == name } }
}
