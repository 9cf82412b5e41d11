import Foundation

/// Finds which of a list of values (classes or categories) a cell names. Cells are trimmed of
/// spaces; when every listed value is a number, cells are compared as numbers, so `0.0` and
/// `0` are the same value.
public struct ClassMatcher: Sendable {
    private let byText: [String: Int]
    private let byNumber: [Double: Int]?

    /// A matcher for `values` (index `i` for `values[i]`; a later duplicate is ignored).
    public init(_ values: [String]) {
        var text: [String: Int] = [:]
        for (i, v) in values.enumerated() where text[v.trimmedSpaces] == nil {
            text[v.trimmedSpaces] = i
        }
        byText = text
        if Self.allNumeric(values) {
            var numbers: [Double: Int] = [:]
            for (i, v) in values.enumerated() where numbers[Self.number(v)!] == nil { numbers[Self.number(v)!] = i }
            byNumber = numbers
        } else {
            byNumber = nil
        }
    }

    /// The index of the value `cell` names, or nil.
    public func index(of cell: String) -> Int? {
        let t = cell.trimmedSpaces
        if let i = byText[t] { return i }
        if let byNumber, let x = Self.number(t) { return byNumber[x] }
        return nil
    }

    /// A finite number written in `text` (spaces trimmed), or nil.
    public static func number(_ text: String) -> Double? {
        let t = text.trimmedSpaces
        guard let x = Double(t), x.isFinite else { return nil }
        return x
    }

    /// Whether every value is a finite number (and there is at least one).
    public static func allNumeric(_ values: [String]) -> Bool {
        !values.isEmpty && values.allSatisfy { number($0) != nil }
    }

    /// The form two equal values share: the number's shortest text when `numeric`, else the trimmed text.
    public static func canonical(_ value: String, numeric: Bool) -> String {
        let t = value.trimmedSpaces
        guard numeric, let x = number(t) else { return t }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }
}
