/// Escaping for text and attribute values placed in HTML and SVG.
enum HTMLText {
    /// `text` with `& < > " '` replaced by entities, and characters XML 1.0 forbids (C0 controls
    /// other than tab, newline and carriage return) replaced by U+FFFD, so the result is safe both
    /// as element content and inside a double- or single-quoted attribute, in HTML and in SVG.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
