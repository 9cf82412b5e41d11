/// The plain-text results table printed at the end of a run: one row per arm; columns for each
/// site's accuracy, the mean, bytes per round up (sites to coordinator) and down, and wall
/// time; columns aligned with spaces.
enum TerminalTable {
    static func render(_ results: SimulationResults) -> String {
        let sites = ReportSites.names(results)
        // A regression run shows R² per site and the mean MAE, RMSE and R² instead of accuracy.
        let regression = results.isRegression
        let header = ["arm"] + (regression ? sites.map { $0 + " R²" } : sites) + (regression ? ["MAE", "RMSE", "R²"] : ["mean"]) + ["up/round", "down/round", "time"]
        var rows: [[String]] = []
        var failures: [(Int, String)] = []
        for arm in results.arms {
            if let error = arm.failed {
                failures.append((rows.count, "FAILED: " + error.replacingNewlines()))
                rows.append([arm.name])
                continue
            }
            let rounds = Double(max(arm.rounds.count, 1))
            let up = Double(arm.bytesUp) / rounds, down = Double(arm.bytesDown) / rounds
            let scores = regression
                ? sites.map { ValueFormat.r2(arm.score(site: $0)?.r2 ?? .nan) } + [ValueFormat.error(arm.meanMAE), ValueFormat.error(arm.meanRMSE), ValueFormat.r2(arm.meanR2)]
                : sites.map { ValueFormat.percent(arm.score(site: $0)?.accuracy ?? .nan) } + [ValueFormat.percent(arm.meanAccuracy)]
            rows.append([arm.name] + scores
                        + [up > 0 ? ValueFormat.bytes(up) : "-", down > 0 ? ValueFormat.bytes(down) : "-", ValueFormat.seconds(arm.wallSeconds)])
        }
        // Widths from the header and complete rows; a failed row's error runs past the columns.
        var widths = header.map(\.count)
        for row in rows where row.count == header.count {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                return i == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        var out = [line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        let failureText = Dictionary(uniqueKeysWithValues: failures)
        for (i, row) in rows.enumerated() {
            if let text = failureText[i] {
                out.append(row[0] + String(repeating: " ", count: max(0, widths[0] - row[0].count)) + "  " + text)
            } else {
                out.append(line(row.map { $0 == ValueFormat.missing ? "-" : $0 }))
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}

private extension String {
    func replacingNewlines() -> String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
