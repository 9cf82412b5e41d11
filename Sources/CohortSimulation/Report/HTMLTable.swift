/// A small builder for the report's HTML tables. Cell text is escaped; numeric cells are
/// right-aligned with tabular figures.
struct HTMLTable {
    /// One cell.
    struct Cell {
        var text: String
        var numeric = false
        var best = false
        var className: String? = nil
        var columnSpan = 1

        static func text(_ text: String) -> Cell { Cell(text: text) }
        static func number(_ text: String, best: Bool = false) -> Cell { Cell(text: text, numeric: true, best: best) }
    }

    var header: [Cell]
    var rows: [[Cell]] = []
    var className: String? = nil
    var caption: String? = nil

    func render() -> String {
        var html = "<div class=\"scroll\"><table\(className.map { " class=\"\($0)\"" } ?? "")>\n"
        if let caption { html += "<caption>\(HTMLText.escape(caption))</caption>\n" }
        html += "<thead><tr>" + header.map { cell("th", $0, scope: "col") }.joined() + "</tr></thead>\n<tbody>\n"
        for row in rows {
            html += "<tr>" + row.enumerated().map { i, c in i == 0 ? cell("th", c, scope: "row") : cell("td", c) }.joined()
                + "</tr>\n"
        }
        return html + "</tbody>\n</table></div>"
    }

    private func cell(_ tag: String, _ c: Cell, scope: String? = nil) -> String {
        var classes: [String] = []
        if c.numeric { classes.append("num") }
        if c.best { classes.append("best") }
        if let extra = c.className { classes.append(extra) }
        var attributes = ""
        if let scope { attributes += " scope=\"\(scope)\"" }
        if !classes.isEmpty { attributes += " class=\"\(classes.joined(separator: " "))\"" }
        if c.columnSpan > 1 { attributes += " colspan=\"\(c.columnSpan)\"" }
        return "<\(tag)\(attributes)>\(HTMLText.escape(c.text))</\(tag)>"
    }
}
