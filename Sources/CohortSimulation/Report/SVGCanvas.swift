/// Builds one self-contained SVG image as text. Every string drawn is escaped, every number is
/// printed with at most two decimals, and styling is by presentation attributes so the image
/// needs no stylesheet.
struct SVGCanvas {
    /// Horizontal text anchoring.
    enum Anchor: String { case start, middle, end }

    /// Width and height in CSS pixels (also the view box).
    let width: Double
    let height: Double
    /// Prefix for element ids (patterns), unique per chart so several SVGs can share one page.
    let idPrefix: String
    private var elements: [String] = []
    private var definitions: [String] = []
    private var definedIDs: Set<String> = []

    init(width: Double, height: Double, idPrefix: String) {
        self.width = width
        self.height = height
        self.idPrefix = idPrefix
    }

    /// The fill for data series `index`: its palette colour, or once the palette has repeated, that
    /// colour in diagonal stripes (a pattern defined on first use) so repeated colours stay distinct.
    mutating func seriesFill(_ index: Int) -> String {
        let colour = Palette.colour(index)
        guard Palette.repeats(index) else { return colour }
        let id = "\(idPrefix)-hatch-\(index)"
        if !definedIDs.contains(id) {
            definedIDs.insert(id)
            let angle = (index / Palette.colours.count) % 2 == 1 ? 45 : -45
            definitions.append("<pattern id=\"\(id)\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
                               + "patternTransform=\"rotate(\(angle))\"><rect width=\"6\" height=\"6\" fill=\"#FFFFFF\"/>"
                               + "<rect width=\"3.5\" height=\"6\" fill=\"\(colour)\"/></pattern>")
        }
        return "url(#\(id))"
    }

    /// A rectangle; `data` becomes `data-*` attributes, `tooltip` a `<title>` child.
    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String,
                       stroke: String? = nil, opacity: Double? = nil, className: String? = nil,
                       data: [(String, String)] = [], tooltip: String? = nil) {
        var attributes = [("x", c(x)), ("y", c(y)), ("width", c(max(0, width))), ("height", c(max(0, height))),
                          ("fill", fill)]
        if let stroke { attributes += [("stroke", stroke), ("stroke-width", "1")] }
        if let opacity { attributes.append(("fill-opacity", c(opacity))) }
        if let className { attributes.append(("class", className)) }
        attributes += data.map { ("data-\($0.0)", $0.1) }
        element("rect", attributes, tooltip: tooltip)
    }

    /// A straight line.
    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String,
                       width: Double = 1, dash: String? = nil) {
        var attributes = [("x1", c(x1)), ("y1", c(y1)), ("x2", c(x2)), ("y2", c(y2)),
                          ("stroke", stroke), ("stroke-width", c(width))]
        if let dash { attributes.append(("stroke-dasharray", dash)) }
        element("line", attributes)
    }

    /// An open polyline through `points`.
    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2,
                           dash: String? = nil, tooltip: String? = nil) {
        guard !points.isEmpty else { return }
        var attributes = [("points", points.map { "\(c($0.0)),\(c($0.1))" }.joined(separator: " ")),
                          ("fill", "none"), ("stroke", stroke), ("stroke-width", c(width)),
                          ("stroke-linejoin", "round"), ("stroke-linecap", "round")]
        if let dash { attributes.append(("stroke-dasharray", dash)) }
        element("polyline", attributes, tooltip: tooltip)
    }

    /// A marker of `shape` centred on (x, y) with "radius" `size`.
    mutating func marker(_ shape: MarkerShape, x: Double, y: Double, size: Double, fill: String,
                         stroke: String? = nil, opacity: Double? = nil, tooltip: String? = nil) {
        var paint = [("fill", fill)]
        if let stroke { paint += [("stroke", stroke), ("stroke-width", "1")] }
        if let opacity { paint.append(("fill-opacity", c(opacity))) }
        switch shape {
        case .circle:
            element("circle", [("cx", c(x)), ("cy", c(y)), ("r", c(size))] + paint, tooltip: tooltip)
        case .square:
            let s = size * 0.9
            element("rect", [("x", c(x - s)), ("y", c(y - s)), ("width", c(2 * s)), ("height", c(2 * s))] + paint,
                    tooltip: tooltip)
        case .triangle:
            let s = size * 1.15
            polygon([(x, y - s), (x + s, y + s * 0.8), (x - s, y + s * 0.8)], paint: paint, tooltip: tooltip)
        case .diamond:
            let s = size * 1.2
            polygon([(x, y - s), (x + s, y), (x, y + s), (x - s, y)], paint: paint, tooltip: tooltip)
        }
    }

    /// Text at (x, y) (the baseline, unless `middle` is set, which centres it vertically).
    mutating func text(_ string: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start,
                       fill: String = Palette.text, bold: Bool = false, rotate: Double? = nil,
                       middle: Bool = false) {
        var attributes = [("x", c(x)), ("y", c(y)), ("font-size", c(size)), ("fill", fill)]
        if anchor != .start { attributes.append(("text-anchor", anchor.rawValue)) }
        if bold { attributes.append(("font-weight", "bold")) }
        if middle { attributes.append(("dominant-baseline", "central")) }
        if let rotate { attributes.append(("transform", "rotate(\(c(rotate)) \(c(x)) \(c(y)))")) }
        elements.append("<text\(render(attributes))>\(HTMLText.escape(string))</text>")
    }

    /// The finished `<svg>` element; `title` is its accessible name.
    func render(title: String) -> String {
        let header = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(c(width)) \(c(height))\" "
            + "width=\"\(c(width))\" height=\"\(c(height))\" role=\"img\" aria-label=\"\(HTMLText.escape(title))\" "
            + "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif\">"
        let defs = definitions.isEmpty ? "" : "<defs>\n" + definitions.joined(separator: "\n") + "\n</defs>\n"
        return header + "\n<title>\(HTMLText.escape(title))</title>\n" + defs + elements.joined(separator: "\n") + "\n</svg>"
    }

    /// An approximate rendered width of `string` at `size` px in a sans-serif font, for layout.
    static func textWidth(_ string: String, size: Double) -> Double {
        var units = 0.0
        for ch in string {
            switch ch {
            case "i", "l", "j", "I", "!", ".", ",", ":", ";", "'", "|", " ": units += 0.3
            case "m", "w", "M", "W", "%", "@": units += 0.85
            case _ where ch.isUppercase: units += 0.68
            default: units += 0.56
            }
        }
        return units * size
    }

    private mutating func polygon(_ points: [(Double, Double)], paint: [(String, String)], tooltip: String?) {
        element("polygon", [("points", points.map { "\(c($0.0)),\(c($0.1))" }.joined(separator: " "))] + paint,
                tooltip: tooltip)
    }

    private mutating func element(_ name: String, _ attributes: [(String, String)], tooltip: String? = nil) {
        if let tooltip {
            elements.append("<\(name)\(render(attributes))><title>\(HTMLText.escape(tooltip))</title></\(name)>")
        } else {
            elements.append("<\(name)\(render(attributes))/>")
        }
    }

    private func render(_ attributes: [(String, String)]) -> String {
        attributes.map { " \($0.0)=\"\(HTMLText.escape($0.1))\"" }.joined()
    }

    private func c(_ v: Double) -> String { ValueFormat.coordinate(v) }
}

/// Marker shapes for scatter points and line vertices.
enum MarkerShape: CaseIterable {
    case circle, square, triangle, diamond

    /// The shape for class label `label`, cycling through the cases.
    static func forLabel(_ label: Int) -> MarkerShape {
        allCases[((label % allCases.count) + allCases.count) % allCases.count]
    }
}
