/// Chart (b): the mean test accuracy over sites at the end of each round, one line per
/// federated arm; every completed non-federated arm (source-only, pooled, local-only) is a
/// dashed horizontal reference line at its final mean accuracy, labelled beside the plot.
enum RoundsLineChart {
    static let title = "Mean test accuracy per round"

    /// The chart, or `nil` when no arm recorded a round.
    static func svg(_ results: SimulationResults) -> String? {
        let lines = results.arms.indices.filter { results.arms[$0].federated && !results.arms[$0].rounds.isEmpty }
        guard !lines.isEmpty else { return nil }
        let references = results.arms.indices.filter { i in
            let arm = results.arms[i]
            return !arm.federated && arm.failed == nil && arm.meanAccuracy.isFinite
        }

        let lastRound = lines.flatMap { results.arms[$0].rounds.map(\.round) }.max() ?? 1
        let firstRound = min(1, lines.flatMap { results.arms[$0].rounds.map(\.round) }.min() ?? 1)
        var values = lines.flatMap { results.arms[$0].rounds.map(\.meanAccuracy) }.filter(\.isFinite)
        values += references.map { results.arms[$0].meanAccuracy }
        var low = values.min() ?? 0, high = values.max() ?? 1
        if low == high { low -= 0.05; high += 0.05 }
        // A little room so no line or reference sits exactly on the plot's edge.
        (low, high) = (low - 0.03 * (high - low), high + 0.03 * (high - low))
        let yScale = LinearScale(covering: max(0, low), min(1, high), targetTicks: 6)
        let xScale = LinearScale(covering: Double(firstRound), Double(lastRound), targetTicks: 6, integerSteps: true)

        var items = lines.map { i in
            ChartLegend.Item(label: results.arms[i].name + (results.arms[i].failed == nil ? "" : " (failed)"),
                             swatch: .line(Palette.colour(i), dash: Palette.dash(i)))
        }
        items += references.map { .init(label: results.arms[$0].name, swatch: .line(Palette.colour($0), dash: "7 4")) }
        let left = ChartAxis(edge: .left, kind: .continuous(yScale, format: { ValueFormat.tick($0 * 100, step: yScale.step * 100) + "%" }),
                             title: "Mean test accuracy")
        let bottom = ChartAxis(edge: .bottom, kind: .continuous(xScale, format: { ValueFormat.tick($0, step: xScale.step) }),
                               title: "Round")
        let referenceLabels = references.map { "\(results.arms[$0].name) \(ValueFormat.percent(results.arms[$0].meanAccuracy))" }
        let rightMargin = min(220, (referenceLabels.map { SVGCanvas.textWidth($0, size: 11) }.max() ?? 0) + 36)
        var frame = ChartFrame(id: "rounds", title: title, legend: ChartLegend(items: items), left: left, bottom: bottom,
                               plotHeight: 300, rightMargin: max(rightMargin, 24))
        frame.drawAxes(left: left, bottom: bottom)
        let plot = frame.plot

        // Reference lines, labels pushed apart so they never overlap.
        var labelYs = references.map { left.position(of: results.arms[$0].meanAccuracy, in: plot) }
        for (k, i) in references.enumerated() {
            frame.canvas.line(x1: plot.x, y1: labelYs[k], x2: plot.right, y2: labelYs[k], stroke: Palette.colour(i),
                              width: 1.5, dash: "7 4")
        }
        labelYs = ChartLabels.spread(labelYs, gap: 14)
        for (k, _) in references.enumerated() {
            frame.canvas.text(referenceLabels[k], x: plot.right + 6, y: labelYs[k], size: 11, fill: Palette.text,
                              middle: true)
        }

        for i in lines {
            let arm = results.arms[i]
            let colour = Palette.colour(i)
            var segment: [(Double, Double)] = []
            var segments: [[(Double, Double)]] = []
            for record in arm.rounds.sorted(by: { $0.round < $1.round }) {
                let mean = record.meanAccuracy
                guard mean.isFinite else {
                    if !segment.isEmpty { segments.append(segment); segment = [] }
                    continue
                }
                segment.append((bottom.position(of: Double(record.round), in: plot), left.position(of: mean, in: plot)))
            }
            if !segment.isEmpty { segments.append(segment) }
            for s in segments {
                frame.canvas.polyline(s, stroke: colour, width: 2.5, dash: Palette.dash(i), tooltip: arm.name)
            }
            let markers = arm.rounds.count <= 40 || segments.allSatisfy { $0.count == 1 }
            for record in arm.rounds where markers && record.meanAccuracy.isFinite {
                frame.canvas.marker(.circle, x: bottom.position(of: Double(record.round), in: plot),
                                    y: left.position(of: record.meanAccuracy, in: plot),
                                    size: arm.rounds.count <= 3 ? 5 : 3.5, fill: colour,
                                    stroke: "#FFFFFF",
                                    tooltip: "\(arm.name), round \(record.round): \(ValueFormat.percent(record.meanAccuracy))")
            }
        }
        return frame.render(title: title)
    }
}
