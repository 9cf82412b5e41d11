/// Renders `report.html`: one self-contained page (inline CSS, inline SVG charts, no scripts,
/// no external URLs) that reads on a laptop screen and prints on A4.
enum HTMLReport {
    static func render(_ results: SimulationResults) -> String {
        var body: [String] = []
        body.append(header(results))
        if !results.settings.isEmpty {
            var table = HTMLTable(header: [.text("Setting"), .text("Value")], className: "settings")
            table.rows = results.settings.sorted { $0.key < $1.key }.map { [.text($0.key), .text($0.value)] }
            body.append(section("settings", "Settings", table.render()))
        }
        if !results.notes.isEmpty {
            body.append(section("notes", "Notes", list(results.notes)))
        }
        let failed = results.arms.filter { $0.failed != nil }
        if !failed.isEmpty {
            let items = failed.map { "<li><strong>\(e($0.name))</strong>: <span class=\"error\">\(e($0.failed!))</span></li>" }
            body.append("<div class=\"alert\" role=\"alert\"><strong>\(failed.count) of \(results.arms.count) arms failed.</strong>"
                        + " They appear in the tables with their error; rounds they completed are still charted.\n<ul>\n"
                        + items.joined(separator: "\n") + "\n</ul></div>")
        }
        body.append(section("summary", "Summary",
                            paragraph((results.isRegression
                                       ? "Regression target: each final model's R² on each site's held-out test set, and the mean MAE and RMSE (the target's original units) and R²; "
                                       : "Final-model accuracy on each site's held-out test set; ") + "means are unweighted over sites. "
                                      + "The best value in each column is highlighted.")
                            + SummaryTable.html(results)))
        var charts = results.isRegression ? paragraph("The accuracy charts are left out for a regression target; the table above has each arm's MAE, RMSE and R².") : figure(AccuracyBarChart.svg(results),
                            "Each bar is one arm's final model tested on one site"
                                + (ReportSites.names(results).count > 1 ? "; the last group is the unweighted mean over sites." : "."))
        if results.isRegression {
        } else if let rounds = RoundsLineChart.svg(results) {
            charts += figure(rounds, "Mean over sites of the global model's test accuracy at the end of each round. "
                             + "Dashed lines are the non-federated arms' final mean accuracy.")
        } else {
            charts += paragraph("No federated rounds were recorded, so there is no per-round chart.")
        }
        if let bytes = BytesChart.svg(results) {
            charts += figure(bytes, "Total bytes sent up and down, divided by the number of rounds "
                             + "(all bytes, for arms without rounds).")
        } else {
            charts += paragraph("No arm recorded any bytes on the wire, so there is no communication chart.")
        }
        body.append(section("charts", "Charts", charts))
        body.append(section("shift", "Domain shift", shiftSection(results)))
        body.append(section("sites", "Sites", SitesTable.html(results)))
        body.append(section("arms", "Arms", armList(results)))
        body.append("<footer>Written by <code>cohort simulate</code>. The same numbers are in "
                    + "<code>metrics.json</code> and <code>rounds.csv</code> beside this file.</footer>")

        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(e(results.title))</title>
        <style>
        \(stylesheet)
        </style>
        </head>
        <body>
        <main>
        \(body.joined(separator: "\n"))
        </main>
        </body>
        </html>

        """
    }

    private static func header(_ r: SimulationResults) -> String {
        var facts = ["\(r.kind) data", "seed \(r.seed)", "\(r.rounds) round\(r.rounds == 1 ? "" : "s")",
                     "\(r.sites.count) site\(r.sites.count == 1 ? "" : "s")",
                     "\(r.arms.count) arm\(r.arms.count == 1 ? "" : "s")"]
        if r.quick { facts.append("quick mode") }
        return "<header>\n<h1>\(e(r.title))</h1>\n<p class=\"meta\">"
            + facts.map(e).joined(separator: " · ")
            + "</p>\n<p class=\"meta\">Started \(e(r.startedAt)) · wall time \(e(ValueFormat.seconds(r.wallSeconds)))</p>\n</header>"
    }

    private static func shiftSection(_ r: SimulationResults) -> String {
        guard let shift = r.shift else { return paragraph("No domain-shift view was computed for this run.") }
        var html = ""
        if let svg = ShiftScatterChart.svg(shift, results: r) {
            html += figure(svg, "Each point is one sample's feature vector projected on the first two principal "
                           + "components; colour is the site, shape the class. Separated clouds mean shifted domains.")
        } else {
            html += paragraph("The shift view has no points with finite coordinates.")
        }
        if !shift.perSite.isEmpty {
            html += paragraph("Shift of each site's features against the source domain "
                              + "(maximum mean discrepancy; 0 means no shift), the proxy A-distance (0: a linear classifier "
                              + "cannot tell the site from the source; 2: it always can) and their mean L2 norm.")
            html += ShiftTable.html(shift)
        }
        return html
    }

    private static func armList(_ r: SimulationResults) -> String {
        let items = r.arms.map { arm in
            "<dt>\(e(arm.name))<span class=\"tag\">\(arm.federated ? "federated" : "not federated")</span></dt>"
                + "<dd>\(e(arm.description.isEmpty ? "No description." : arm.description))</dd>"
        }
        return "<dl class=\"arms\">\n" + items.joined(separator: "\n") + "\n</dl>"
    }

    private static func section(_ id: String, _ title: String, _ content: String) -> String {
        "<section id=\"\(id)\">\n<h2>\(e(title))</h2>\n\(content)\n</section>"
    }

    private static func figure(_ svg: String, _ caption: String) -> String {
        "<figure>\n\(svg)\n<figcaption>\(e(caption))</figcaption>\n</figure>\n"
    }

    private static func paragraph(_ text: String) -> String { "<p>\(e(text))</p>\n" }

    private static func list(_ items: [String]) -> String {
        "<ul>\n" + items.map { "<li>\(e($0))</li>" }.joined(separator: "\n") + "\n</ul>"
    }

    private static func e(_ text: String) -> String { HTMLText.escape(text) }

    static let stylesheet = """
    :root { color-scheme: light; }
    body { margin: 0; background: #F6F7F9; color: #1F2328;
           font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
    main { max-width: 1000px; margin: 0 auto; padding: 24px 28px 40px; background: #FFFFFF; }
    h1 { font-size: 26px; margin: 8px 0 4px; }
    h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #D8DEE4; }
    p { margin: 6px 0 10px; }
    .meta { color: #57606A; margin: 2px 0; }
    table { border-collapse: collapse; margin: 8px 0 12px; font-size: 14px; }
    thead th { vertical-align: bottom; }
    th, td { padding: 5px 10px; border-bottom: 1px solid #E4E7EB; text-align: left; vertical-align: top; }
    thead th { background: #F0F2F5; border-bottom: 2px solid #C9CED6; font-weight: 600; }
    tbody tr:nth-child(even) { background: #FAFBFC; }
    .num { text-align: right; font-variant-numeric: tabular-nums; }
    td.num { white-space: nowrap; }
    tbody th { white-space: nowrap; }
    .scroll { overflow-x: auto; }
    td.best { font-weight: 700; background: #DDF4E4; }
    td.failed, .error { color: #B42318; }
    table.summary { width: 100%; font-size: 13px; }
    table.summary th, table.summary td { padding: 5px 7px; }
    table.settings td { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 13px; }
    .alert { border: 1px solid #F3B4AE; background: #FEF3F2; padding: 10px 14px; margin: 16px 0; border-radius: 6px; }
    .alert ul { margin: 6px 0 0; padding-left: 20px; }
    figure { margin: 18px 0 26px; }
    figure svg { display: block; width: 100%; height: auto; max-width: 960px; }
    figcaption { color: #57606A; font-size: 13px; margin-top: 4px; }
    dl.arms dt { font-weight: 600; margin-top: 8px; }
    dl.arms dd { margin: 2px 0 0 18px; color: #333; }
    .tag { font-weight: 400; font-size: 12px; color: #57606A; border: 1px solid #D0D7DE; border-radius: 10px;
           padding: 0 7px; margin-left: 8px; }
    code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 13px; }
    footer { margin-top: 36px; color: #57606A; font-size: 13px; }
    @media print {
      @page { size: A4; margin: 14mm; }
      body { background: #FFFFFF; font-size: 11pt; }
      main { max-width: none; padding: 0; }
      .scroll { overflow: visible; }
      table.summary { font-size: 8.5pt; }
      figure, table, .alert { break-inside: avoid; }
      h2 { break-after: avoid; }
      td.best { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
    }
    """
}
