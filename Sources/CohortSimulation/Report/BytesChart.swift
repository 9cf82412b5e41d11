/// Chart (c): bytes on the wire per round (up + down) for every arm, as horizontal bars on a
/// log scale with decade ticks (1 KB, 10 KB, ...). Arms that sent nothing are labelled so
/// rather than drawn; when no arm sent anything there is no chart.
enum BytesChart {
    static let title = "Communication per round"

    /// The chart, or `nil` when no arm recorded any bytes.
    static func svg(_ results: SimulationResults) -> String? {
        let names = results.arms.map { $0.name + ($0.failed == nil ? "" : " (failed)") }
        let positive = results.arms.map(\.bytesPerRound).filter { $0 > 0 && $0.isFinite }
        guard let smallest = positive.min(), let largest = positive.max() else { return nil }
        let scale = LogScale(covering: smallest, largest)
        let left = ChartAxis(edge: .left, kind: .categories(names), title: "")
        let bottom = ChartAxis(edge: .bottom, kind: .continuous(scale, format: ValueFormat.bytes),
                               title: "Bytes per round, up + down (log scale; 1 KB = 1000 bytes)")
        var frame = ChartFrame(id: "bytes", title: title, legend: ChartLegend(items: []), left: left, bottom: bottom,
                               plotHeight: Double(max(results.arms.count, 1)) * 30, rightMargin: 96)
        frame.drawAxes(left: left, bottom: bottom)
        let plot = frame.plot

        for (i, arm) in results.arms.enumerated() {
            let (start, band) = left.band(i, in: plot)
            let perRound = arm.bytesPerRound
            let centre = start + band / 2
            guard perRound > 0 && perRound.isFinite else {
                frame.canvas.text(arm.federated ? "no bytes recorded" : "no traffic (not federated)",
                                  x: plot.x + 8, y: centre, size: 11, fill: Palette.muted, middle: true)
                continue
            }
            let end = bottom.position(of: perRound, in: plot)
            let rounds = max(arm.rounds.count, 1)
            frame.canvas.rect(x: plot.x, y: start + band * 0.18, width: end - plot.x, height: band * 0.64,
                              fill: frame.canvas.seriesFill(i), stroke: Palette.repeats(i) ? Palette.colour(i) : nil,
                              className: "bar",
                              data: [("arm", arm.name), ("value", String(perRound))],
                              tooltip: "\(arm.name): \(ValueFormat.bytes(perRound)) per round "
                                  + "(up \(ValueFormat.bytes(Double(arm.bytesUp) / Double(rounds))), "
                                  + "down \(ValueFormat.bytes(Double(arm.bytesDown) / Double(rounds))))")
            frame.canvas.text(ValueFormat.bytes(perRound), x: end + 6, y: centre, size: 11, fill: Palette.text,
                              middle: true)
        }
        return frame.render(title: title)
    }
}
