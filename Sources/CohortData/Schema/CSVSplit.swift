import CohortTensor
import Foundation

/// Splits a CSV file into one file per value of a column (e.g. a site column), optionally each
/// into a training and a held-out test file, stratified by another column (the label). Rows
/// are copied unchanged (re-quoted only where a cell needs it). Used by `cohort data split`.
public enum CSVSplit {
    /// One value's files.
    public struct Part: Sendable, Equatable {
        /// The column value.
        public var value: String
        /// Rows written to the training (or only) file and to the test file.
        public var trainRows: Int
        public var testRows: Int
        /// Files written: `<value>.csv`, or `<value>.train.csv` and `<value>.test.csv`.
        public var files: [String]
    }

    /// What `split` did.
    public struct Result: Sendable {
        public var parts: [Part]
        /// Rows left out because their `by` cell was a missing marker.
        public var skippedMissing: Int
    }

    /// Most distinct values accepted (files written).
    public static let maxParts = 1000

    /// Splits `path` by the values of column `by` into `outDir` (created if needed). With
    /// `testFraction` > 0, each part's rows are shuffled with `seed` within each value of
    /// `stratify` (when given) and that fraction (rounded, per stratum) goes to the test file.
    /// - Throws: `DataError` for a missing column, a value unusable as a file name (empty, `/`,
    ///   a leading `.`, over 200 bytes), more than `maxParts` values, rows with the wrong cell count.
    public static func split(path: String, by: String, outDir: String, testFraction: Double = 0, stratify: String? = nil,
                             seed: UInt64 = 0, missing: [String] = DatasetSchema.defaultMissing) throws -> Result {
        guard testFraction >= 0, testFraction < 1 else { throw DataError("test fraction \(testFraction) is outside [0, 1)") }
        var reader = try CSVReader(path: path)
        guard let rawHeader = try reader.next(), !CSVReader.isBlank(rawHeader) else { throw DataError("\(path): empty file (a header row is required)") }
        let header = rawHeader.map { $0.trimmedSpaces }
        func column(_ name: String) throws -> Int {
            guard let i = header.firstIndex(of: name) else {
                throw DataError("\(path): no column '\(name)' (columns: \(header.prefix(30).joined(separator: ", "))\(header.count > 30 ? ", …" : ""))")
            }
            return i
        }
        let byColumn = try column(by)
        let strataColumn = try stratify.map(column)
        let markers = Set(missing.map { $0.trimmedSpaces })
        var order: [String] = []
        var rowsOf: [String: [[String]]] = [:]
        var skipped = 0
        var badCounts: [Int] = []
        var badNames: [String: Int] = [:]
        while let cells = try reader.next() {
            if CSVReader.isBlank(cells) { continue }
            guard cells.count == header.count else { badCounts.append(reader.line); continue }
            let value = cells[byColumn].trimmedSpaces
            if markers.contains(value) { skipped += 1; continue }
            if rowsOf[value] == nil {
                if fileNameProblem(value) != nil { badNames[value] = badNames[value] ?? reader.line; continue }
                guard order.count < maxParts else { throw DataError("\(path): column '\(by)' has more than \(maxParts) values; it is not a site column") }
                order.append(value)
                rowsOf[value] = []
            }
            rowsOf[value]!.append(cells)
        }
        var problems: [String] = []
        if !badCounts.isEmpty {
            problems.append("\(badCounts.count) row(s) without \(header.count) cells (rows \(badCounts.prefix(5).map(String.init).joined(separator: ", "))\(badCounts.count > 5 ? ", …" : ""))")
        }
        for (value, line) in badNames.sorted(by: { $0.value < $1.value }) {
            problems.append("value '\(DatasetSchema.short(value))' of column '\(by)' (row \(line)) cannot name a file: \(fileNameProblem(value) ?? "")")
        }
        guard problems.isEmpty else { throw DataError("\(path): " + problems.joined(separator: "; ")) }
        guard !order.isEmpty else { throw DataError("\(path): no rows with a value in column '\(by)'") }

        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let headerLine = line(rawHeader)
        var parts: [Part] = []
        for (g, value) in order.enumerated() {
            let rows = rowsOf[value]!
            var isTest = [Bool](repeating: false, count: rows.count)
            if testFraction > 0 {
                var strata: [String: [Int]] = [:]
                var strataOrder: [String] = []
                for (i, r) in rows.enumerated() {
                    let key = strataColumn.map { r[$0].trimmedSpaces } ?? ""
                    if strata[key] == nil { strataOrder.append(key); strata[key] = [] }
                    strata[key]!.append(i)
                }
                var rng = SeededRandom(seed: seed &+ UInt64(g) &* 0x9E37_79B9_7F4A_7C15)
                for key in strataOrder where !(strataColumn != nil && markers.contains(key)) {
                    let members = strata[key]!
                    let take = Int((testFraction * Double(members.count)).rounded())
                    for k in rng.permutation(members.count).prefix(take) { isTest[members[k]] = true }
                }
            }
            func write(_ name: String, test: Bool) throws -> (String, Int) {
                let file = (outDir as NSString).appendingPathComponent(name)
                var text = headerLine
                var count = 0
                for (i, r) in rows.enumerated() where isTest[i] == test { text += line(r); count += 1 }
                do { try Data(text.utf8).write(to: URL(fileURLWithPath: file), options: .atomic) } catch {
                    throw DataError("\(file): cannot write: \(error.localizedDescription)")
                }
                return (file, count)
            }
            if testFraction > 0 {
                let (trainFile, trainRows) = try write("\(value).train.csv", test: false)
                let (testFile, testRows) = try write("\(value).test.csv", test: true)
                parts.append(Part(value: value, trainRows: trainRows, testRows: testRows, files: [trainFile, testFile]))
            } else {
                let (file, count) = try write("\(value).csv", test: false)
                parts.append(Part(value: value, trainRows: count, testRows: 0, files: [file]))
            }
        }
        return Result(parts: parts, skippedMissing: skipped)
    }

    /// Why `value` cannot be a file name, or nil.
    static func fileNameProblem(_ value: String) -> String? {
        if value.isEmpty { return "empty" }
        if value.contains("/") || value.contains("\0") { return "it holds '/' or a NUL" }
        if value.hasPrefix(".") { return "it starts with '.'" }
        if value.utf8.count > 200 { return "longer than 200 bytes" }
        return nil
    }

    /// One CSV record with a line feed; cells quoted where they hold a comma, quote or line break.
    static func line(_ cells: [String]) -> String {
        cells.map { cell in
            cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
        }.joined(separator: ",") + "\n"
    }
}
