/// The header dictionary of a `.npy` file, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, parsed strictly: exactly
/// the three keys, each once, a string descriptor, `True`/`False`, and a tuple of
/// non-negative integers. Anything else (a structured dtype's list, expressions, other keys)
/// is refused with the character position.
struct NumpyHeader: Equatable {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    /// Most dimensions accepted (numpy's own limit is 64).
    static let maxRank = 64

    /// Parses the header text (ASCII; a v3 header may be UTF-8, but every valid header is ASCII).
    static func parse(_ bytes: [UInt8]) throws(NumpyHeaderError) -> NumpyHeader {
        var p = Parser(bytes: bytes)
        return try p.dictionary()
    }

    /// The header text numpy writes for a C-order array (before padding).
    static func text(descr: String, shape: [Int]) -> String {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        return "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func dictionary() throws(NumpyHeaderError) -> NumpyHeader {
            skipSpace()
            try expect("{")
            var descr: String?, fortran: Bool?, shape: [Int]?
            skipSpace()
            while peek() != UInt8(ascii: "}") {
                let keyAt = i
                let key = try string()
                skipSpace()
                try expect(":")
                skipSpace()
                switch key {
                case "descr":
                    guard descr == nil else { throw fail("key 'descr' appears twice", at: keyAt) }
                    if peek() == UInt8(ascii: "[") { throw fail("structured dtypes (a list 'descr') are not supported") }
                    descr = try string()
                case "fortran_order":
                    guard fortran == nil else { throw fail("key 'fortran_order' appears twice", at: keyAt) }
                    fortran = try boolean()
                case "shape":
                    guard shape == nil else { throw fail("key 'shape' appears twice", at: keyAt) }
                    shape = try tuple()
                default:
                    throw fail("unexpected key '\(key)' (only 'descr', 'fortran_order' and 'shape' are allowed)", at: keyAt)
                }
                skipSpace()
                if peek() == UInt8(ascii: ",") { i += 1; skipSpace() } else if peek() != UInt8(ascii: "}") {
                    throw fail("expected ',' or '}'")
                }
            }
            i += 1
            skipSpace()
            guard i == bytes.count else { throw fail("unexpected text after the closing '}'") }
            guard let descr else { throw NumpyHeaderError("missing key 'descr'") }
            guard let fortran else { throw NumpyHeaderError("missing key 'fortran_order'") }
            guard let shape else { throw NumpyHeaderError("missing key 'shape'") }
            return NumpyHeader(descr: descr, fortranOrder: fortran, shape: shape)
        }

        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipSpace() {
            while let c = peek(), c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 }
        }

        mutating func expect(_ c: Unicode.Scalar) throws(NumpyHeaderError) {
            guard peek() == UInt8(ascii: c) else { throw fail("expected '\(c)'") }
            i += 1
        }

        /// A quoted string of printable ASCII without backslashes.
        mutating func string() throws(NumpyHeaderError) -> String {
            guard let q = peek(), q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else { throw fail("expected a quoted string") }
            let start = i + 1
            i = start
            while let c = peek(), c != q {
                guard c >= 0x20 && c < 0x7F && c != UInt8(ascii: "\\") else { throw fail("unsupported character in a string") }
                i += 1
            }
            guard peek() == q else { throw fail("unterminated string", at: start - 1) }
            i += 1
            return String(decoding: bytes[start..<(i - 1)], as: UTF8.self)
        }

        mutating func boolean() throws(NumpyHeaderError) -> Bool {
            for (word, value) in [("True", true), ("False", false)] {
                let w = Array(word.utf8)
                if i + w.count <= bytes.count && Array(bytes[i..<(i + w.count)]) == w { i += w.count; return value }
            }
            throw fail("expected True or False")
        }

        /// `()`, `(n,)` or `(n, m, ...)` with an optional trailing comma.
        mutating func tuple() throws(NumpyHeaderError) -> [Int] {
            try expect("(")
            var dims: [Int] = []
            skipSpace()
            var sawComma = false
            while peek() != UInt8(ascii: ")") {
                guard dims.count < NumpyHeader.maxRank else { throw fail("more than \(NumpyHeader.maxRank) dimensions") }
                dims.append(try integer())
                skipSpace()
                sawComma = false
                if peek() == UInt8(ascii: ",") { i += 1; sawComma = true; skipSpace() } else if peek() != UInt8(ascii: ")") {
                    throw fail("expected ',' or ')' in the shape")
                }
            }
            i += 1
            guard dims.count != 1 || sawComma else { throw fail("shape '(n)' is not a tuple; numpy writes '(n,)'", at: i - 1) }
            return dims
        }

        /// A non-negative decimal integer (a legacy `L` suffix is accepted).
        mutating func integer() throws(NumpyHeaderError) -> Int {
            let start = i
            var value = 0
            while let c = peek(), c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
                guard !o1 && !o2 else { throw fail("dimension too large", at: start) }
                value = s
                i += 1
            }
            guard i > start else { throw fail("expected a non-negative integer dimension") }
            if peek() == UInt8(ascii: "L") { i += 1 }
            return value
        }

        func fail(_ what: String, at position: Int? = nil) -> NumpyHeaderError {
            NumpyHeaderError("\(what) at character \(position ?? i)")
        }
    }
}

/// Why a `.npy` header dictionary was refused.
struct NumpyHeaderError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
