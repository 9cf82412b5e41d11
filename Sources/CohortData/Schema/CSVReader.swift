import Foundation

/// A streaming CSV reader over UTF-8 bytes (RFC 4180): fields separated by commas, records by
/// LF, CRLF or CR; a field in double quotes may hold commas, line breaks and `""` for a quote.
///
/// One pass over the bytes: the cost is linear in the file's size, and the memory per record is
/// that record's cells (the cell array is reused between records).
public struct CSVReader {
    private let bytes: [UInt8]
    private let path: String
    private var position = 0
    /// The 1-based line on which the record returned last began.
    public private(set) var line = 0
    private var nextLine = 1
    private var cells: [String] = []
    private var field: [UInt8] = []

    /// A reader over `bytes`; `path` names the file in errors.
    public init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
        // Skip a UTF-8 byte order mark.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
    }

    /// Reads a whole file into a reader.
    public init(path: String) throws {
        guard let handle = FileHandleReader.contents(path) else { throw DataError("\(path): cannot read file") }
        self.init(bytes: handle, path: path)
    }

    /// The next record's cells, or nil at the end of the input. A blank line is returned as one
    /// empty cell. Cells are not trimmed.
    /// - Throws: `DataError` for a quote left open or text after a closing quote, or a cell that is not UTF-8.
    public mutating func next() throws -> [String]? {
        guard position < bytes.count else { return nil }
        line = nextLine
        cells.removeAll(keepingCapacity: true)
        let all = bytes
        let n = all.count
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
        return try all.withUnsafeBufferPointer { b -> [String]? in
            var i = position
            while true {
                let fieldStart = i
                var j = i
                while j < n, b[j] == 0x20 { j += 1 }
                if j < n, b[j] == quote {
                    i = try quotedField(b, from: j + 1)
                } else {
                    i = j
                    while i < n, b[i] != comma, b[i] != lf, b[i] != cr {
                        if b[i] == quote {
                            throw DataError("\(path):\(nextLine): a quote inside an unquoted cell (quote the whole cell and write \"\" for a quote)")
                        }
                        i += 1
                    }
                    try append(UnsafeBufferPointer(rebasing: b[fieldStart..<i]))
                }
                if i >= n { position = n; return cells }
                let c = b[i]
                i += 1
                if c == comma { continue }
                if c == cr, i < n, b[i] == lf { i += 1 }
                nextLine += 1
                position = i
                return cells
            }
        }
    }

    /// Reads a quoted cell whose text starts at `start` (after the opening quote); returns the
    /// index after the closing quote and any spaces.
    private mutating func quotedField(_ b: UnsafeBufferPointer<UInt8>, from start: Int) throws -> Int {
        let quote = UInt8(ascii: "\""), n = b.count
        field.removeAll(keepingCapacity: true)
        var i = start
        while true {
            guard i < n else { throw DataError("\(path):\(line): a quoted cell is never closed") }
            let c = b[i]
            if c == quote {
                if i + 1 < n, b[i + 1] == quote { field.append(quote); i += 2; continue }
                i += 1
                break
            }
            if c == 0x0A || (c == 0x0D && !(i + 1 < n && b[i + 1] == 0x0A)) { nextLine += 1 }
            field.append(c)
            i += 1
        }
        while i < n, b[i] == 0x20 { i += 1 }
        if i < n, b[i] != UInt8(ascii: ","), b[i] != 0x0A, b[i] != 0x0D {
            throw DataError("\(path):\(nextLine): text after a closing quote (cell \(cells.count + 1))")
        }
        let text = field
        try append(text)
        return i
    }

    private mutating func append(_ raw: some Collection<UInt8>) throws {
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw DataError("\(path):\(nextLine): cell \(cells.count + 1) is not UTF-8 text")
        }
        cells.append(s)
    }

    /// True when a record is blank (one empty or all-space cell).
    public static func isBlank(_ cells: [String]) -> Bool {
        cells.count == 1 && cells[0].allSatisfy { $0 == " " || $0 == "\t" }
    }
}

/// Reading a whole file as bytes.
enum FileHandleReader {
    static func contents(_ path: String) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return [UInt8](data)
    }
}

extension String {
    /// The text without leading and trailing spaces and tabs; returns `self` untouched (no
    /// copy) in the common case where there are none. Cheaper than Foundation's trimming in
    /// per-cell loops.
    var trimmedSpaces: String {
        let u = utf8
        guard let first = u.first, let last = u.last else { return self }
        func blank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        if !blank(first) && !blank(last) { return self }
        var start = u.startIndex, end = u.endIndex
        while start < end, blank(u[start]) { start = u.index(after: start) }
        while end > start, blank(u[u.index(before: end)]) { end = u.index(before: end) }
        return String(self[start..<end])
    }
}
