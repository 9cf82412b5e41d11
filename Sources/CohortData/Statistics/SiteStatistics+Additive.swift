/// The additive parts of a site's statistics as one vector of numbers (the federated statistics
/// round under secure aggregation: the vectors are summed masked, and the coordinator sees only
/// the total). Layout for a schema (protocols/wire.md, "Statistics round"): the row count, then
/// per feature its count and missing count, followed by Σx and Σx² (numeric) or one count per
/// category (categorical, binary); for a regression label last the target's count, unlabelled
/// rows, Σy and Σy². The sum of several sites' vectors is the vector of their
/// merge, without the quantile sketches (which are not additive).
extension SiteStatistics {
    /// Entries of the additive vector for `schema`.
    public static func additiveLength(schema: DatasetSchema) -> Int {
        1 + schema.features.reduce(0) { $0 + 2 + ($1.type == .numeric ? 2 : $1.values.count) } + (schema.label.isRegression ? 4 : 0)
    }

    /// What each entry of the additive vector is, for messages ("rows", "level.sumSquares", "unit.count[icu]").
    public static func additiveLabels(schema: DatasetSchema) -> [String] {
        var out = ["rows"]
        for f in schema.features {
            out += ["\(f.name).count", "\(f.name).missing"]
            if f.type == .numeric { out += ["\(f.name).sum", "\(f.name).sumSquares"] } else { out += f.values.map { "\(f.name).count[\($0)]" } }
        }
        if schema.label.isRegression { out += ["count", "missing", "sum", "sumSquares"].map { "\(schema.label.column).target.\($0)" } }
        return out
    }

    /// The additive vector of these statistics (computed for `schema`).
    public func additiveVector(schema: DatasetSchema) -> [Double] {
        var out = [Double(rows)]
        out.reserveCapacity(Self.additiveLength(schema: schema))
        for (column, entry) in zip(schema.features, features) {
            out += [Double(entry.count), Double(entry.missing)]
            if column.type == .numeric {
                out += [entry.sum ?? 0, entry.sumSquares ?? 0]
            } else {
                let counts = entry.categoryCounts ?? []
                out += (0..<column.values.count).map { $0 < counts.count ? Double(counts[$0]) : 0 }
            }
        }
        if schema.label.isRegression {
            out += [Double(target?.count ?? 0), Double(target?.missing ?? rows), target?.sum ?? 0, target?.sumSquares ?? 0]
        }
        return out
    }

    /// Statistics (without sketches) from an additive vector, usually the sum of several sites':
    /// every count must be a whole number in 0...`maxRows`, every sum finite; the result is then
    /// checked like a site's statistics (`validate(schema:sketchCapacity:sketches: false)`).
    public static func fromAdditive(_ vector: [Double], schema: DatasetSchema) throws(StatisticsError) -> SiteStatistics {
        let expected = additiveLength(schema: schema)
        guard vector.count == expected else { throw .malformed("additive statistics of \(vector.count) entries, the schema needs \(expected)") }
        var at = 0
        func count(_ feature: String, _ field: String) throws(StatisticsError) -> Int {
            let v = vector[at]
            at += 1
            guard v.isFinite, v.rounded() == v else { throw .inconsistentCounts(feature: feature, detail: "\(field) \(v) is not a whole number") }
            guard v >= 0, v <= Double(maxRows) else { throw .absurdCount(feature: feature, field: field, value: v < 0 ? -1 : maxRows + 1, limit: maxRows) }
            return Int(v)
        }
        func real(_ feature: String, _ field: String) throws(StatisticsError) -> Double {
            let v = vector[at]
            at += 1
            guard v.isFinite else { throw .notFinite(feature: feature, field: field) }
            return v
        }
        let rows = try count("*", "rows")
        var features: [Feature] = []
        for column in schema.features {
            var entry = Feature(name: column.name, count: try count(column.name, "count"), missing: try count(column.name, "missing"))
            if column.type == .numeric {
                entry.sum = try real(column.name, "sum")
                entry.sumSquares = try real(column.name, "sumSquares")
            } else {
                var counts: [Int] = []
                for _ in column.values { counts.append(try count(column.name, "category count")) }
                entry.categoryCounts = counts
            }
            features.append(entry)
        }
        var target: Feature? = nil
        if schema.label.isRegression {
            let label = schema.label.column
            var t = Feature(name: label, count: try count(label, "target count"), missing: try count(label, "unlabelled rows"))
            t.sum = try real(label, "target sum")
            t.sumSquares = try real(label, "target sumSquares")
            target = t
        }
        let statistics = SiteStatistics(rows: rows, features: features, target: target)
        try statistics.validate(schema: schema, sketchCapacity: 1, sketches: false)
        return statistics
    }

    /// The columns whose fit needs the quantile sketch (a numeric column imputed with the median
    /// or the most frequent value): they cannot be fitted from additive statistics alone.
    public static func columnsNeedingSketch(schema: DatasetSchema) -> [String] {
        schema.features.filter { $0.type == .numeric && ($0.policy == .median || $0.policy == .mostFrequent) }.map(\.name)
    }
}
