import CohortNN
import CohortTensor

/// The distinct texts a site found in its learned categorical columns (a schema column without
/// `categories`), so that the rows can be read before the categories are known: the reader
/// stores each cell as the index of its text here (a local index), and once the categories are
/// fitted (`FittedPreprocessing`) `resolve` maps local indices to the fitted ones. Only the
/// distinct texts are kept, never one per row; both their number and their length are bounded.
/// Spec: protocols/dataset-schema.md, "Categories learned in federation".
public struct CategoryDictionary: Sendable, Equatable {
    /// Distinct values a site may hold in one learned column unless the schema's `maxCategories` says otherwise.
    public static let defaultMaxCategories = 1000
    /// Longest category text (UTF-8 bytes, after trimming spaces and tabs).
    public static let maxTextBytes = 256

    /// Per schema feature, the distinct texts in first-seen order (empty for a column that is not learned).
    public private(set) var texts: [[String]]
    private var lookup: [[String: Int]]
    private let names: [String]
    private let caps: [Int]
    private let learns: [Bool]

    /// An empty dictionary for `schema`'s learned columns.
    public init(schema: DatasetSchema) {
        let features = schema.features
        texts = Array(repeating: [], count: features.count)
        lookup = Array(repeating: [:], count: features.count)
        names = features.map(\.name)
        caps = features.map(\.categoryCap)
        learns = features.map(\.learnsCategories)
    }

    /// Whether the schema has any learned column.
    public var isEmpty: Bool { !learns.contains(true) }

    /// The local index of `text` (trimmed) in feature `j`, adding it when new.
    /// - Throws: `CategoryLearningError.tooManyCategories` past the column's cap,
    ///   `.textTooLong` for a text longer than `maxTextBytes` (`path` and `row` name the cell).
    public mutating func index(feature j: Int, text: String, path: String, row: Int) throws(CategoryLearningError) -> Int {
        if let k = lookup[j][text] { return k }
        let bytes = text.utf8.count
        guard bytes <= Self.maxTextBytes else {
            throw .textTooLong(column: names[j], bytes: bytes, cap: Self.maxTextBytes, path: path, row: row)
        }
        guard texts[j].count < caps[j] else { throw .tooManyCategories(column: names[j], cap: caps[j], path: path, row: row) }
        let k = texts[j].count
        texts[j].append(text)
        lookup[j][text] = k
        return k
    }

    /// Per learned feature, how many of `raw`'s rows (`[n, features]`, local indices, NaN for
    /// missing) hold each text: `(texts, counts)` with only the texts that occur, in text order.
    /// Nil for the columns that are not learned.
    public func counts(in raw: Tensor) -> [(texts: [String], counts: [Int])?] {
        let f = texts.count
        let n = raw.rank == 2 && raw.columns == f ? raw.rows : 0
        return (0..<f).map { j in
            guard learns[j] else { return nil }
            var c = [Int](repeating: 0, count: texts[j].count)
            raw.data.withUnsafeBufferPointer { p in
                for i in 0..<n {
                    let v = p[i * f + j]
                    if v >= 0, Int(v) < c.count { c[Int(v)] += 1 }
                }
            }
            let order = c.indices.filter { c[$0] > 0 }.sorted { texts[j][$0] < texts[j][$1] }
            return (order.map { texts[j][$0] }, order.map { c[$0] })
        }
    }

    /// `raw` (read with this dictionary) with the learned columns' local indices replaced by
    /// indices into `fitted`'s categories. A text not among them becomes -1 (all zeros when
    /// encoded) when the column has `unknown: ignore`; otherwise it is an error.
    /// - Throws: `CategoryLearningError.unseen` naming the column, the value and how many rows hold it.
    public func resolve(_ raw: SiteData, with fitted: DatasetSchema) throws(CategoryLearningError) -> SiteData {
        guard !isEmpty else { return raw }
        var out = raw
        out.labelled.inputs = try resolve(raw.labelled.inputs, with: fitted)
        out.unlabelled = try resolve(raw.unlabelled, with: fitted)
        return out
    }

    /// Raw rows `[n, features]` with local indices mapped as in `resolve(_:with:)`.
    public func resolve(_ raw: Tensor, with fitted: DatasetSchema) throws(CategoryLearningError) -> Tensor {
        let f = texts.count
        guard !isEmpty, raw.rank == 2, raw.columns == f, raw.rows > 0, fitted.features.count == f else { return raw }
        var data = raw.data
        for j in 0..<f where learns[j] {
            let feature = fitted.features[j]
            let matcher = ClassMatcher(feature.values)
            let map = texts[j].map { matcher.index(of: $0) }
            var unseen = [Int](repeating: 0, count: map.count)
            for i in 0..<raw.rows {
                let v = data[i * f + j]
                guard !v.isNaN, v >= 0, Int(v) < map.count else { continue }
                if let k = map[Int(v)] { data[i * f + j] = Float(k) } else {
                    data[i * f + j] = -1
                    unseen[Int(v)] += 1
                }
            }
            if !feature.ignoresUnknown, let k = unseen.indices.first(where: { unseen[$0] > 0 }) {
                throw .unseen(column: feature.name, value: texts[j][k], rows: unseen[k])
            }
        }
        return Tensor(shape: raw.shape, data: data)
    }
}

/// Why categories could not be learned or applied. Cases, not text, tell them apart.
public enum CategoryLearningError: Error, Equatable, CustomStringConvertible {
    /// A site holds more distinct values in a learned column than its cap.
    case tooManyCategories(column: String, cap: Int, path: String, row: Int)
    /// A category text is longer than `CategoryDictionary.maxTextBytes`.
    case textTooLong(column: String, bytes: Int, cap: Int, path: String, row: Int)
    /// Rows hold a value that is not among the fitted categories, and the column's `unknown`
    /// policy is `error`.
    case unseen(column: String, value: String, rows: Int)

    public var description: String {
        switch self {
        case .tooManyCategories(let c, let cap, let path, let row):
            return "\(path): column '\(c)' holds more than \(cap) distinct values (row \(row)), the cap for learned categories; raise the column's 'maxCategories' (at most 100000) or list its categories"
        case .textTooLong(let c, let bytes, let cap, let path, let row):
            return "\(path): column '\(c)': a category of \(bytes) bytes (row \(row)), longer than the cap of \(cap) bytes for learned categories"
        case .unseen(let c, let v, let rows):
            return "column '\(c)': value '\(DatasetSchema.short(v))' (\(rows) row\(rows == 1 ? "" : "s")) is not among the learned categories; set the column's \"unknown\": \"ignore\" to encode such values as all zeros"
        }
    }
}
