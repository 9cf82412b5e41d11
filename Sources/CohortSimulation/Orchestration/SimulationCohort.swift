/// The generated data a run works on, as paths: the source domain and the hospitals.
struct SimulationCohort {
    var sourceTrain: String
    var sourceValidation: String
    var sites: [SimulatedSite]
    /// Sizes, prevalence and scanner settings per hospital, for the report.
    var siteInfos: [SiteInfo]
    var classes: Int
    /// The per-sample shape a model takes (`[H, W, C]` or `[features]`).
    var modelInputShape: [Int]
}
