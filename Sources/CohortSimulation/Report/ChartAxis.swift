/// One axis of a chart: where values (or categories) land along a plot edge, and how the
/// axis line, ticks, tick labels, grid lines and title are drawn. Every chart uses it for
/// both of its axes.
struct ChartAxis {
    /// The plot edge the axis is drawn on; bottom axes run left to right, left axes bottom to top
    /// (categories on a left axis run top to bottom, in reading order).
    enum Edge { case bottom, left }

    /// What the axis measures.
    enum Kind {
        /// Continuous values on `scale`, tick labels made by `format`.
        case continuous(any ChartScale, format: (Double) -> String)
        /// Equal-width bands, one per category, labelled with the category names.
        case categories([String])
    }

    let edge: Edge
    let kind: Kind
    let title: String
    var fontSize: Double = 12

    /// The pixel coordinate along the axis for a continuous `value` (x for bottom, y for left).
    func position(of value: Double, in plot: PlotArea) -> Double {
        guard case .continuous(let scale, _) = kind else { preconditionFailure("position(of:) needs a continuous axis") }
        let f = scale.fraction(value)
        return edge == .bottom ? plot.x + f * plot.width : plot.bottom - f * plot.height
    }

    /// The start and width (in pixels, along the axis) of category band `index`.
    func band(_ index: Int, in plot: PlotArea) -> (start: Double, width: Double) {
        guard case .categories(let names) = kind else { preconditionFailure("band(_:in:) needs a category axis") }
        let length = edge == .bottom ? plot.width : plot.height
        let width = length / Double(max(names.count, 1))
        return ((edge == .bottom ? plot.x : plot.y) + Double(index) * width, width)
    }

    /// The widest tick label, for sizing the margin the axis needs beside the plot.
    var widestLabel: Double {
        labels.map { SVGCanvas.textWidth($0, size: fontSize) }.max() ?? 0
    }

    private var labels: [String] {
        switch kind {
        case .continuous(let scale, let format): return scale.ticks.map(format)
        case .categories(let names): return names
        }
    }

    /// Draws the axis line, ticks, labels, optional grid lines across the plot, and the title.
    func draw(on canvas: inout SVGCanvas, plot: PlotArea, grid: Bool = true) {
        switch kind {
        case .continuous(let scale, let format):
            for tick in scale.ticks {
                let p = position(of: tick, in: plot)
                switch edge {
                case .bottom:
                    if grid { canvas.line(x1: p, y1: plot.y, x2: p, y2: plot.bottom, stroke: Palette.grid) }
                    canvas.line(x1: p, y1: plot.bottom, x2: p, y2: plot.bottom + 5, stroke: Palette.axis)
                    canvas.text(format(tick), x: p, y: plot.bottom + 8 + fontSize, size: fontSize, anchor: .middle,
                                fill: Palette.muted)
                case .left:
                    if grid { canvas.line(x1: plot.x, y1: p, x2: plot.right, y2: p, stroke: Palette.grid) }
                    canvas.line(x1: plot.x - 5, y1: p, x2: plot.x, y2: p, stroke: Palette.axis)
                    canvas.text(format(tick), x: plot.x - 8, y: p, size: fontSize, anchor: .end, fill: Palette.muted,
                                middle: true)
                }
            }
        case .categories(let names):
            for (i, name) in names.enumerated() {
                let (start, width) = band(i, in: plot)
                let centre = start + width / 2
                switch edge {
                case .bottom:
                    let label = ChartAxis.fit(name, width: width - 4, size: fontSize)
                    canvas.text(label, x: centre, y: plot.bottom + 8 + fontSize, size: fontSize, anchor: .middle,
                                fill: Palette.text)
                case .left:
                    canvas.text(name, x: plot.x - 8, y: centre, size: fontSize, anchor: .end, fill: Palette.text,
                                middle: true)
                }
            }
        }
        switch edge {
        case .bottom:
            canvas.line(x1: plot.x, y1: plot.bottom, x2: plot.right, y2: plot.bottom, stroke: Palette.axis)
            if !title.isEmpty {
                canvas.text(title, x: plot.x + plot.width / 2, y: plot.bottom + 2 * fontSize + 20, size: fontSize + 1,
                            anchor: .middle, fill: Palette.text)
            }
        case .left:
            canvas.line(x1: plot.x, y1: plot.y, x2: plot.x, y2: plot.bottom, stroke: Palette.axis)
            if !title.isEmpty {
                let x = plot.x - widestLabel - 22
                canvas.text(title, x: x, y: plot.y + plot.height / 2, size: fontSize + 1, anchor: .middle,
                            fill: Palette.text, rotate: -90)
            }
        }
    }

    /// The space a left axis needs between the canvas edge and the plot (labels plus title).
    var leftMargin: Double { widestLabel + (title.isEmpty ? 16 : 40) }

    /// The space a bottom axis needs below the plot (labels plus title).
    var bottomMargin: Double { title.isEmpty ? fontSize + 16 : 2 * fontSize + 30 }

    /// `text` shortened with an ellipsis to fit `width` pixels at `size`.
    static func fit(_ text: String, width: Double, size: Double) -> String {
        guard SVGCanvas.textWidth(text, size: size) > width else { return text }
        var shortened = text
        while !shortened.isEmpty && SVGCanvas.textWidth(shortened + "…", size: size) > width { shortened.removeLast() }
        return shortened + "…"
    }
}
