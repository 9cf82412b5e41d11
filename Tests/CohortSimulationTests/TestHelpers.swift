import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// Parsing helpers the tests use to read the writers' output back.
enum TestHelpers {
    /// Parses RFC 4180 CSV text (quoted fields, doubled quotes) into rows of fields.
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text)[...]
        while let ch = chars.popFirst() {
            if quoted {
                if ch == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
                } else {
                    field.append(ch)
                }
            } else if ch == "\"" {
                quoted = true
            } else if ch == "," {
                row.append(field); field = ""
            } else if ch == "\n" {
                row.append(field); field = ""
                rows.append(row); row = []
            } else {
                field.append(ch)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// Every `<svg ...>...</svg>` block in `html`, in order.
    static func svgBlocks(_ html: String) -> [String] {
        var blocks: [String] = []
        var rest = html[...]
        while let open = rest.range(of: "<svg "), let close = rest.range(of: "</svg>", range: open.upperBound..<rest.endIndex) {
            blocks.append(String(rest[open.lowerBound..<close.upperBound]))
            rest = rest[close.upperBound...]
        }
        return blocks
    }

    /// Parses `xml` with Foundation's XMLParser; returns the error if it is not well-formed.
    static func xmlError(_ xml: String) -> Error? {
        let parser = XMLParser(data: Data(xml.utf8))
        return parser.parse() ? nil : (parser.parserError ?? NSError(domain: "xml", code: -1))
    }

    /// The elements named `name` in `xml`, as attribute dictionaries (via XMLParser).
    static func elements(_ name: String, in xml: String) -> [[String: String]] {
        final class Collector: NSObject, XMLParserDelegate {
            let name: String
            var found: [[String: String]] = []
            init(name: String) { self.name = name }
            func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                        qualifiedName: String?, attributes: [String: String]) {
                if elementName == name { found.append(attributes) }
            }
        }
        let collector = Collector(name: name)
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "SVG should parse: \(String(describing: parser.parserError))")
        return collector.found
    }

    /// A fresh empty temporary directory.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "cohort-report-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
