/// The report's summary table: one row per arm with per-site accuracy, the means, bytes per
/// round and wall time; the best value in each column is highlighted (highest accuracy; lowest
/// nonzero bytes per round; lowest wall time), failed arms show their error across the row.
enum SummaryTable {
    static func html(_ results: SimulationResults) -> String {
        if results.isRegression { return regression(results) }
        let sites = ReportSites.names(results)
        let completed = results.arms.filter { $0.failed == nil }
        func best(_ values: [Double], highest: Bool) -> Double? {
            let finite = values.filter(\.isFinite)
            return highest ? finite.max() : finite.min()
        }
        let bestSite = sites.map { site in best(completed.map { $0.score(site: site)?.accuracy ?? .nan }, highest: true) }
        let bestMean = best(completed.map(\.meanAccuracy), highest: true)
        let bestBalanced = best(completed.map(\.meanBalancedAccuracy), highest: true)
        let bestBytes = best(completed.map(\.bytesPerRound).filter { $0 > 0 }, highest: false)
        let bestTime = best(completed.map(\.wallSeconds), highest: false)

        var table = HTMLTable(header: [.text("Arm")] + sites.map { .number($0) }
                              + [.number("Mean"), .number("Balanced acc. (mean)"), .number("Bytes / round"),
                                 .number("Wall time")],
                              className: "summary")
        for arm in results.arms {
            var row: [HTMLTable.Cell] = [.text(arm.name)]
            if let error = arm.failed {
                row.append(HTMLTable.Cell(text: "Failed: \(error)", className: "failed", columnSpan: sites.count + 4))
                table.rows.append(row)
                continue
            }
            for (k, site) in sites.enumerated() {
                let value = arm.score(site: site)?.accuracy ?? .nan
                row.append(.number(ValueFormat.percent(value), best: value.isFinite && value == bestSite[k]))
            }
            row.append(.number(ValueFormat.percent(arm.meanAccuracy), best: arm.meanAccuracy == bestMean))
            row.append(.number(ValueFormat.percent(arm.meanBalancedAccuracy), best: arm.meanBalancedAccuracy == bestBalanced))
            let bytes = arm.bytesPerRound
            row.append(.number(bytes > 0 ? ValueFormat.bytes(bytes) : ValueFormat.missing, best: bytes > 0 && bytes == bestBytes))
            row.append(.number(ValueFormat.seconds(arm.wallSeconds), best: arm.wallSeconds == bestTime))
            table.rows.append(row)
        }
        return table.render()
    }

    /// A regression run's table: R² per site, the mean MAE, RMSE (original units) and R²
    /// (highest R², lowest errors highlighted), bytes per round and wall time.
    static func regression(_ results: SimulationResults) -> String {
        let sites = ReportSites.names(results)
        let completed = results.arms.filter { $0.failed == nil }
        func best(_ values: [Double], highest: Bool) -> Double? {
            let finite = values.filter(\.isFinite)
            return highest ? finite.max() : finite.min()
        }
        let bestSite = sites.map { site in best(completed.map { $0.score(site: site)?.r2 ?? .nan }, highest: true) }
        let bestMAE = best(completed.map(\.meanMAE), highest: false), bestRMSE = best(completed.map(\.meanRMSE), highest: false)
        let bestR2 = best(completed.map(\.meanR2), highest: true)
        let bestBytes = best(completed.map(\.bytesPerRound).filter { $0 > 0 }, highest: false)
        var table = HTMLTable(header: [.text("Arm")] + sites.map { .number("\($0) R²") }
                              + [.number("MAE (mean)"), .number("RMSE (mean)"), .number("R² (mean)"), .number("Bytes / round"), .number("Wall time")],
                              className: "summary")
        for arm in results.arms {
            var row: [HTMLTable.Cell] = [.text(arm.name)]
            if let error = arm.failed {
                row.append(HTMLTable.Cell(text: "Failed: \(error)", className: "failed", columnSpan: sites.count + 5))
                table.rows.append(row)
                continue
            }
            for (k, site) in sites.enumerated() {
                let value = arm.score(site: site)?.r2 ?? .nan
                row.append(.number(ValueFormat.r2(value), best: value.isFinite && value == bestSite[k]))
            }
            row.append(.number(ValueFormat.error(arm.meanMAE), best: arm.meanMAE == bestMAE))
            row.append(.number(ValueFormat.error(arm.meanRMSE), best: arm.meanRMSE == bestRMSE))
            row.append(.number(ValueFormat.r2(arm.meanR2), best: arm.meanR2 == bestR2))
            let bytes = arm.bytesPerRound
            row.append(.number(bytes > 0 ? ValueFormat.bytes(bytes) : ValueFormat.missing, best: bytes > 0 && bytes == bestBytes))
            row.append(.number(ValueFormat.seconds(arm.wallSeconds)))
            table.rows.append(row)
        }
        return table.render()
    }
}
