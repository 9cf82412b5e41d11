/// The site order every part of the report uses.
enum ReportSites {
    /// The names in `results.sites`, then any other site an arm was scored on, in first-seen order.
    static func names(_ results: SimulationResults) -> [String] {
        var names = results.sites.map(\.name)
        var seen = Set(names)
        for arm in results.arms {
            for score in arm.perSite where !seen.contains(score.site) {
                seen.insert(score.site)
                names.append(score.site)
            }
        }
        return names
    }
}
