/// Chart (a): grouped bars of each arm's final test accuracy per site, plus a group for the
/// unweighted mean over sites. Bars carry `data-arm`, `data-site` (or `data-mean`) and
/// `data-value` attributes.
enum AccuracyBarChart {
    static let title = "Final test accuracy per site"

    static func svg(_ results: SimulationResults) -> String {
        let sites = ReportSites.names(results)
        let groups = sites.count > 1 ? sites + ["Mean over sites"] : sites
        let drawn = results.arms.indices.filter { results.arms[$0].failed == nil }

        let legend = ChartLegend(items: results.arms.enumerated().map { i, arm in
            arm.failed == nil ? .init(label: arm.name, swatch: .box(series: i))
                : .init(label: "\(arm.name) (failed)", swatch: .empty)
        })
        let left = ChartAxis(edge: .left, kind: .continuous(LinearScale(lower: 0, upper: 1, step: 0.2),
                                                            format: { ValueFormat.percent($0, decimals: 0) }),
                             title: "Test accuracy")
        let bottom = ChartAxis(edge: .bottom, kind: .categories(groups), title: "")
        var frame = ChartFrame(id: "accuracy", title: title, legend: legend, left: left, bottom: bottom, plotHeight: 300)
        frame.drawAxes(left: left, bottom: bottom)
        let plot = frame.plot

        for (g, group) in groups.enumerated() {
            let isMean = sites.count > 1 && g == groups.count - 1
            let (start, bandWidth) = bottom.band(g, in: plot)
            // Bars are at most 56 px wide, so one site or few arms do not give slabs.
            let barWidth = min(bandWidth * 0.82 / Double(max(drawn.count, 1)), 56)
            let inner = barWidth * Double(drawn.count)
            for (slot, a) in drawn.enumerated() {
                let arm = results.arms[a]
                let value = isMean ? arm.meanAccuracy : (arm.score(site: group)?.accuracy ?? .nan)
                let x = start + (bandWidth - inner) / 2 + Double(slot) * barWidth
                guard value.isFinite else {
                    frame.canvas.text("n/a", x: x + barWidth / 2, y: plot.bottom - 6, size: 10, anchor: .start,
                                      fill: Palette.muted, rotate: -90, middle: true)
                    continue
                }
                let clamped = min(max(value, 0), 1)
                let top = left.position(of: clamped, in: plot)
                let label = isMean ? "mean over sites" : group
                frame.canvas.rect(x: x + 0.5, y: top, width: barWidth - 1, height: plot.bottom - top,
                                  fill: frame.canvas.seriesFill(a), stroke: Palette.repeats(a) ? Palette.colour(a) : nil,
                                  className: "bar",
                                  data: [("arm", arm.name), isMean ? ("mean", "true") : ("site", group),
                                         ("value", String(value))],
                                  tooltip: "\(arm.name), \(label): \(ValueFormat.percent(value))")
            }
        }
        return frame.render(title: title)
    }
}
