/// Chart (d): every sample's features projected to two dimensions, coloured by site, shaped by
/// class label, so the distance between site clouds shows the domain shift.
enum ShiftScatterChart {
    static let title = "Feature-space domain shift (PCA)"

    /// The chart, or `nil` when there is no point with finite coordinates.
    static func svg(_ shift: ShiftView, results: SimulationResults) -> String? {
        let points = shift.points.filter { $0.x.isFinite && $0.y.isFinite }
        guard !points.isEmpty else { return nil }
        let sites = siteOrder(shift, results: results)
        let style = Dictionary(uniqueKeysWithValues: siteStyles(sites, results: results).map { ($0.site, $0) })
        let labels = Array(Set(points.map(\.label))).sorted()

        var items = sites.map { site in
            ChartLegend.Item(label: site, swatch: .marker(.circle, style[site]!.colour, hollow: style[site]!.hollow))
        }
        if labels.count > 1 {
            items += labels.map { .init(label: "class \($0)", swatch: .marker(MarkerShape.forLabel($0), "#333333", hollow: true)) }
        }
        let xScale = LinearScale(covering: points.map(\.x).min()!, points.map(\.x).max()!, targetTicks: 8)
        let yScale = LinearScale(covering: points.map(\.y).min()!, points.map(\.y).max()!, targetTicks: 6)
        let left = ChartAxis(edge: .left, kind: .continuous(yScale, format: { ValueFormat.tick($0, step: yScale.step) }),
                             title: axisTitle(2, shift.explainedVariance))
        let bottom = ChartAxis(edge: .bottom, kind: .continuous(xScale, format: { ValueFormat.tick($0, step: xScale.step) }),
                               title: axisTitle(1, shift.explainedVariance))
        var frame = ChartFrame(id: "shift", title: title, legend: ChartLegend(items: items), left: left, bottom: bottom, plotHeight: 400)
        frame.drawAxes(left: left, bottom: bottom)
        for point in points {
            let shape = labels.count > 1 ? MarkerShape.forLabel(point.label) : .circle
            let s = style[point.site]!
            frame.canvas.marker(shape, x: bottom.position(of: point.x, in: frame.plot),
                                y: left.position(of: point.y, in: frame.plot), size: 3.5,
                                fill: s.hollow ? "#FFFFFF" : s.colour, stroke: s.hollow ? s.colour : nil,
                                opacity: s.hollow ? nil : 0.7)
        }
        return frame.render(title: title)
    }

    /// The report's site order, then any other site in the points (e.g. the source domain).
    static func siteOrder(_ shift: ShiftView, results: SimulationResults) -> [String] {
        var order = ReportSites.names(results).filter { name in shift.points.contains { $0.site == name } }
        var seen = Set(order)
        for point in shift.points where !seen.contains(point.site) {
            seen.insert(point.site)
            order.append(point.site)
        }
        return order
    }

    /// Colours: the report's sites take the palette in order (hollow markers once it repeats);
    /// other domains in the points, such as the source, are greys.
    static func siteStyles(_ sites: [String], results: SimulationResults) -> [(site: String, colour: String, hollow: Bool)] {
        let listed = Set(ReportSites.names(results))
        let greys = ["#7A7A7A", "#3D3D3D", "#B0B0B0"]
        var paletteIndex = 0, greyIndex = 0
        return sites.map { site in
            if listed.contains(site) {
                defer { paletteIndex += 1 }
                return (site, Palette.colour(paletteIndex), Palette.repeats(paletteIndex))
            }
            defer { greyIndex += 1 }
            return (site, greys[greyIndex % greys.count], greyIndex >= greys.count)
        }
    }

    private static func axisTitle(_ component: Int, _ explained: [Double]) -> String {
        guard component - 1 < explained.count, explained[component - 1].isFinite else { return "PC\(component)" }
        return "PC\(component) (\(ValueFormat.percent(explained[component - 1])) of variance)"
    }
}
