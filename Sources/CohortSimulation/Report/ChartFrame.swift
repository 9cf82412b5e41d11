/// The shared layout of every chart: a title, a legend under it, then the plot with room for
/// its axes. Charts draw their data into `plot` on `canvas`.
struct ChartFrame {
    /// Canvas width of every chart, in CSS pixels; the HTML scales it down on narrow screens.
    static let width = 960.0
    private static let padding = 16.0

    var canvas: SVGCanvas
    let plot: PlotArea

    /// Lays out a chart whose plot is `plotHeight` tall, with `left`/`bottom` axis margins and
    /// `rightMargin` for labels beside the plot.
    init(id: String, title: String, legend: ChartLegend, left: ChartAxis, bottom: ChartAxis, plotHeight: Double,
         rightMargin: Double = 24) {
        let legendWidth = ChartFrame.width - 2 * ChartFrame.padding
        let legendTop = 38.0
        let legendHeight = legend.height(maxWidth: legendWidth)
        let plotTop = legendTop + legendHeight + (legendHeight > 0 ? 16 : 4)
        let leftMargin = ChartFrame.padding + left.leftMargin
        let height = plotTop + plotHeight + bottom.bottomMargin + ChartFrame.padding / 2
        canvas = SVGCanvas(width: ChartFrame.width, height: height.rounded(.up), idPrefix: id)
        canvas.text(title, x: ChartFrame.padding, y: 24, size: 16, bold: true)
        legend.draw(on: &canvas, x: ChartFrame.padding, y: legendTop, maxWidth: legendWidth)
        plot = PlotArea(x: leftMargin, y: plotTop, width: ChartFrame.width - leftMargin - rightMargin, height: plotHeight)
    }

    /// Draws both axes (the continuous one with grid lines) under the data to come.
    mutating func drawAxes(left: ChartAxis, bottom: ChartAxis) {
        left.draw(on: &canvas, plot: plot)
        bottom.draw(on: &canvas, plot: plot)
    }

    /// The finished `<svg>` element.
    func render(title: String) -> String { canvas.render(title: title) }
}
