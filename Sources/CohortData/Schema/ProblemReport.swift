/// Problems found while reading a file, grouped per column and kind, so one error can list
/// them all: `column 'chol': 172 empty cells (rows 3, 17, 40, …)`. Memory is bounded: each
/// group keeps its count and at most `examples` distinct values with `examples` rows each.
///
/// Rows are the file's line numbers (the header is row 1), as a spreadsheet shows them.
struct ProblemReport {
    enum Kind: Hashable {
        /// Missing cells where the column's policy is `error`; the marker found.
        case missing(marker: String)
        /// Values not in the listed classes or categories.
        case notListed(values: String)
        /// Values that are not finite numbers.
        case notNumber
        /// Records whose cell count differs from the header's.
        case cellCount(header: Int)
    }

    private struct Group {
        var column: String
        var kind: Kind
        var count = 0
        var examples: [(value: String, rows: [Int], count: Int)] = []
    }

    private var groups: [Group] = []
    private var index: [GroupKey: Int] = [:]
    private struct GroupKey: Hashable { var column: String; var kind: Kind }
    let examples = 3

    var isEmpty: Bool { groups.isEmpty }

    /// Records one problem cell.
    mutating func add(column: String, kind: Kind, value: String, row: Int) {
        let key = GroupKey(column: column, kind: kind)
        let g: Int
        if let i = index[key] { g = i } else {
            g = groups.count
            groups.append(Group(column: column, kind: kind))
            index[key] = g
        }
        groups[g].count += 1
        if let e = groups[g].examples.firstIndex(where: { $0.value == value }) {
            groups[g].examples[e].count += 1
            if groups[g].examples[e].rows.count < examples { groups[g].examples[e].rows.append(row) }
        } else if groups[g].examples.count < examples {
            groups[g].examples.append((value, [row], 1))
        }
    }

    /// The problems as one message, grouped per column in the order first met; at most
    /// `maxGroups` groups are spelled out.
    func message(maxGroups: Int = 40) -> String {
        var parts: [String] = []
        for g in groups.prefix(maxGroups) { parts.append(describe(g)) }
        if groups.count > maxGroups { parts.append("… and \(groups.count - maxGroups) more problems") }
        return parts.joined(separator: "; ")
    }

    private func rows(_ rows: [Int], total: Int) -> String {
        let list = rows.map(String.init).joined(separator: ", ")
        return (rows.count == 1 && total == 1 ? "row " : "rows ") + list + (total > rows.count ? ", …" : "")
    }

    private func describe(_ g: Group) -> String {
        let col = "column '\(DatasetSchema.short(g.column))'"
        let plural = g.count == 1 ? "" : "s"
        switch g.kind {
        case .missing(let marker):
            let noun = marker.isEmpty ? "empty cell\(plural)" : "missing cell\(plural) ('\(marker)')"
            return "\(col): \(g.count) \(noun) (\(rows(g.examples[0].rows, total: g.count)))"
        case .cellCount(let header):
            let list = g.examples.map { "row \($0.rows[0]) has \($0.value)" }.joined(separator: ", ")
            return "\(g.count) row\(plural) with a cell count other than the header's \(header) (\(list)\(g.count > g.examples.count ? ", …" : ""))"
        case .notListed(let values): return listed(g, col: col, expected: "not in [\(values)]")
        case .notNumber: return listed(g, col: col, expected: "not a finite number")
        }
    }

    private func listed(_ g: Group, col: String, expected: String) -> String {
        if g.examples.count == 1 {
            let e = g.examples[0]
            return "\(col): value '\(DatasetSchema.short(e.value))' \(expected) (\(rows(e.rows, total: e.count)))"
        }
        let list = g.examples.map { "'\(DatasetSchema.short($0.value))' (\(rows($0.rows, total: $0.count)))" }.joined(separator: ", ")
        let more = g.count > g.examples.reduce(0) { $0 + $1.count } ? ", …" : ""
        return "\(col): \(g.count) values \(expected): \(list)\(more)"
    }

    /// `values` joined for a message, cut after `limit` entries.
    static func list(_ values: [String], limit: Int = 12) -> String {
        let shown = values.prefix(limit).map { DatasetSchema.short($0) }.joined(separator: ", ")
        return values.count > limit ? shown + ", … (\(values.count) in all)" : shown
    }
}
