/// The report's sites table: data sizes, class prevalence and scanner parameters per site.
enum SitesTable {
    static func html(_ results: SimulationResults) -> String {
        var table = HTMLTable(header: [.text("Site"), .number("Train labelled"), .number("Train unlabelled"),
                                       .number("Test"), .text("Class prevalence"), .text("Scanner parameters")],
                              className: "sites")
        for site in results.sites {
            let prevalence = site.prevalence.isEmpty ? ValueFormat.missing
                : site.prevalence.enumerated().map { "\($0): \(ValueFormat.percent($1))" }.joined(separator: " · ")
            let scanner = site.scanner.isEmpty ? ValueFormat.missing
                : site.scanner.sorted { $0.key < $1.key }.map { "\($0.key) \(ValueFormat.number($0.value))" }
                    .joined(separator: " · ")
            table.rows.append([.text(site.name), .number(String(site.trainLabelled)),
                               .number(String(site.trainUnlabelled)), .number(String(site.test)),
                               .text(prevalence), .text(scanner)])
        }
        return table.render()
    }
}
