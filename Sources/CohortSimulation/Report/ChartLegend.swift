/// A chart legend: swatches with labels, laid out left to right and wrapped into rows.
struct ChartLegend {
    /// How an entry's swatch is drawn.
    enum Swatch {
        /// A filled square in the fill of bar series `index` (see `SVGCanvas.seriesFill`).
        case box(series: Int)
        /// A short line with a dot (line series); `dash` for dashed reference lines.
        case line(String, dash: String?)
        /// A scatter marker; `hollow` draws only its outline.
        case marker(MarkerShape, String, hollow: Bool)
        /// An outlined empty square (a series with no data, e.g. a failed arm).
        case empty
    }

    struct Item {
        var label: String
        var swatch: Swatch
    }

    var items: [Item]
    var fontSize: Double = 12
    private let rowHeight = 20.0
    private let swatchWidth = 22.0

    private func width(of item: Item) -> Double {
        swatchWidth + 6 + SVGCanvas.textWidth(item.label, size: fontSize) + 18
    }

    /// Each item's offset from the legend's top-left corner when wrapped at `maxWidth`.
    private func layout(maxWidth: Double) -> [(x: Double, y: Double)] {
        var x = 0.0, y = 0.0
        var placed: [(x: Double, y: Double)] = []
        for item in items {
            let w = width(of: item)
            if x > 0 && x + w > maxWidth {
                x = 0
                y += rowHeight
            }
            placed.append((x, y))
            x += w
        }
        return placed
    }

    /// The height the legend takes when wrapped at `maxWidth` (0 with no items).
    func height(maxWidth: Double) -> Double {
        guard let last = layout(maxWidth: maxWidth).last else { return 0 }
        return last.y + rowHeight
    }

    /// Draws the legend with its top-left corner at (x, y).
    func draw(on canvas: inout SVGCanvas, x: Double, y: Double, maxWidth: Double) {
        for (item, offset) in zip(items, layout(maxWidth: maxWidth)) {
            let left = x + offset.x
            let middle = y + offset.y + rowHeight / 2
            switch item.swatch {
            case .box(let series):
                let fill = canvas.seriesFill(series)
                canvas.rect(x: left + 4, y: middle - 7, width: 14, height: 14, fill: fill,
                            stroke: Palette.repeats(series) ? Palette.colour(series) : "#FFFFFF")
            case .line(let colour, let dash):
                canvas.line(x1: left, y1: middle, x2: left + swatchWidth, y2: middle, stroke: colour, width: 2.5, dash: dash)
                if dash == nil { canvas.marker(.circle, x: left + swatchWidth / 2, y: middle, size: 3.5, fill: colour) }
            case .marker(let shape, let colour, let hollow):
                canvas.marker(shape, x: left + swatchWidth / 2, y: middle, size: 5, fill: hollow ? "#FFFFFF" : colour,
                              stroke: hollow ? colour : nil)
            case .empty:
                canvas.rect(x: left + 4, y: middle - 7, width: 14, height: 14, fill: "#FFFFFF", stroke: Palette.muted)
            }
            canvas.text(item.label, x: left + swatchWidth + 6, y: middle, size: fontSize, middle: true)
        }
    }
}
