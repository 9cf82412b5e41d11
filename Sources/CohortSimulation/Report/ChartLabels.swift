/// Placement helpers for text labels on charts.
enum ChartLabels {
    /// Positions pushed down (increasing) the least needed so that no two are closer than `gap`,
    /// keeping their order.
    static func spread(_ positions: [Double], gap: Double) -> [Double] {
        let order = positions.indices.sorted { positions[$0] < positions[$1] }
        var placed = positions
        var previous = -Double.infinity
        for i in order {
            placed[i] = max(positions[i], previous + gap)
            previous = placed[i]
        }
        return placed
    }
}
