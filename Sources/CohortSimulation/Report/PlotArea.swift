/// The rectangle of a chart inside its canvas where data is drawn (axes sit on its edges).
struct PlotArea {
    var x: Double
    var y: Double
    var width: Double
    var height: Double

    var right: Double { x + width }
    var bottom: Double { y + height }
}
