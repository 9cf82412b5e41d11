/// Plain-text layout helpers for generated help: word wrapping and two-column tables.
enum TextLayout {
    /// Total line width of generated help.
    static let width = 80
    /// Indentation of table rows.
    static let indent = 2
    /// Widest left column before the right column moves to the next line.
    static let maxLabelWidth = 28

    /// Greedily wraps `text` (whitespace-separated words) into lines of at most `width`
    /// characters; a single longer word gets a line of its own.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            if line.isEmpty {
                line = String(word)
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                lines.append(line)
                line = String(word)
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// Rows of `label  text` with all texts starting in one column. A label wider than
    /// ``maxLabelWidth`` sits alone on its line and its text starts on the next.
    ///
    /// `labelWidth` is the width of the left column before capping; it defaults to the widest
    /// label so that several tables of one help text can share a column.
    static func table(_ rows: [(label: String, text: String)], labelWidth: Int? = nil) -> [String] {
        let labelWidth = min(labelWidth ?? rows.map(\.label.count).max() ?? 0, maxLabelWidth)
        let column = indent + labelWidth + 2
        let pad = String(repeating: " ", count: column)
        var lines: [String] = []
        for row in rows {
            let wrapped = wrap(row.text, width: max(width - column, 20))
            let head = String(repeating: " ", count: indent) + row.label
            if row.label.count > labelWidth {
                lines.append(head)
                lines.append(contentsOf: wrapped.map { pad + $0 })
            } else if let first = wrapped.first {
                lines.append(head + String(repeating: " ", count: column - head.count) + first)
                lines.append(contentsOf: wrapped.dropFirst().map { pad + $0 })
            } else {
                lines.append(head)
            }
        }
        return lines
    }

    /// Titled tables (`COMMANDS:` and its rows, …) separated by blank lines, all sharing
    /// one text column.
    static func sections(_ sections: [(title: String, rows: [(label: String, text: String)])]) -> [String] {
        let labelWidth = sections.flatMap { $0.rows.map(\.label.count) }.max() ?? 0
        var lines: [String] = []
        for section in sections {
            if !lines.isEmpty { lines.append("") }
            lines.append(section.title)
            lines += table(section.rows, labelWidth: labelWidth)
        }
        return lines
    }
}
