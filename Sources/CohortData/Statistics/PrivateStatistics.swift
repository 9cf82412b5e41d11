import CohortTensor

/// A site's statistics for the federated statistics round under differential privacy
/// (protocols/privacy.md, "The statistics round"): a vector whose L2 norm is at most
/// `sensitivity(schema:)` whatever the site's data, so that Gaussian noise of σ·S on the sum of
/// the sites' vectors protects each site (zero-out, as for DP-FedAvg's updates).
///
/// Numeric values are clipped to the plan's public bounds [lo, hi] and mapped to z = (x − lo) /
/// (hi − lo) ∈ [0, 1]. Per feature, with n the site's rows: the fraction of rows with a value
/// `a` and without `m` (a + m = 1), then for numeric columns Σz/n and Σz²/n (each ≤ a), for
/// categorical and binary ones the fraction of rows per category (summing to a). So a numeric
/// feature adds at most a² + m² + 2a² ≤ 3 to the squared norm, a categorical one at most
/// 2a² + m² ≤ 2. A site with no rows sends zeros.
public enum PrivateStatistics {
    /// Entries of the vector for `schema`.
    public static func length(schema: DatasetSchema) -> Int {
        schema.features.reduce(0) { $0 + 2 + ($1.type == .numeric ? 2 : $1.values.count) } + (schema.label.isRegression ? 4 : 0)
    }

    /// S: the largest L2 norm of one site's vector, √(Σ 3 per numeric + 2 per other feature).
    public static func sensitivity(schema: DatasetSchema) -> Double {
        Double(schema.features.reduce(0) { $0 + ($1.type == .numeric ? 3 : 2) } + (schema.label.isRegression ? 3 : 0)).squareRoot()
    }

    /// The numeric features (and a regression label) the bounds leave out or give unusable
    /// bounds (lo < hi, both finite).
    public static func unbounded(schema: DatasetSchema, bounds: [String: [Double]]) -> [String] {
        func usable(_ name: String) -> Bool {
            guard let b = bounds[name], b.count == 2, b[0].isFinite, b[1].isFinite, b[0] < b[1] else { return false }
            return true
        }
        return schema.features.filter { $0.type == .numeric && !usable($0.name) }.map(\.name)
            + (schema.label.isRegression && !usable(schema.label.column) ? [schema.label.column] : [])
    }

    /// The site's vector from its raw rows `[n, features]` (NaN = missing) and, for a regression
    /// label, the labelled rows' raw `targets` (last: the labelled and unlabelled shares, Σz/n
    /// and Σz²/n of the targets within the label's bounds; at most 3 more in the squared norm).
    /// - Throws: `StatisticsError.wrongFields` when a numeric feature has no usable bounds.
    public static func vector(schema: DatasetSchema, rows raw: Tensor, targets: Tensor? = nil, bounds: [String: [Double]]) throws(StatisticsError) -> [Double] {
        if let name = unbounded(schema: schema, bounds: bounds).first {
            throw .wrongFields(feature: name, detail: "the plan gives no bounds [lo, hi] with lo < hi for this numeric column (preprocessing.bounds), which privacy needs")
        }
        let f = schema.features.count
        guard raw.rank == 2, raw.columns == f || raw.rows == 0 else { throw .featureCount(got: raw.rank == 2 ? raw.columns : 0, expected: f) }
        let n = raw.rank == 2 ? raw.rows : 0
        var out: [Double] = []
        out.reserveCapacity(length(schema: schema))
        let inverse = n == 0 ? 0 : 1 / Double(n)
        raw.data.withUnsafeBufferPointer { p in
            for (j, column) in schema.features.enumerated() {
                var present = 0
                if column.type == .numeric {
                    let lo = bounds[column.name]![0], width = bounds[column.name]![1] - lo
                    var s1 = 0.0, s2 = 0.0
                    for i in 0..<n where !p[i * f + j].isNaN {
                        present += 1
                        let z = (min(max(Double(p[i * f + j]), lo), lo + width) - lo) / width
                        s1 += z
                        s2 += z * z
                    }
                    out += [Double(present) * inverse, Double(n - present) * inverse, s1 * inverse, s2 * inverse]
                } else {
                    var counts = [Int](repeating: 0, count: column.values.count)
                    for i in 0..<n where !p[i * f + j].isNaN {
                        let k = Int(p[i * f + j])
                        if k >= 0 && k < counts.count { counts[k] += 1; present += 1 }
                    }
                    out += [Double(present) * inverse, Double(n - present) * inverse] + counts.map { Double($0) * inverse }
                }
            }
        }
        if schema.label.isRegression {
            let lo = bounds[schema.label.column]![0], width = bounds[schema.label.column]![1] - lo
            let ys = (targets?.data ?? []).filter { $0.isFinite }.prefix(n)
            var s1 = 0.0, s2 = 0.0
            for y in ys {
                let z = (min(max(Double(y), lo), lo + width) - lo) / width
                s1 += z
                s2 += z * z
            }
            out += [Double(ys.count) * inverse, Double(n - ys.count) * inverse, s1 * inverse, s2 * inverse]
        }
        return out
    }

    /// Statistics standing for `rows` rows (the public total) from the average of the sites'
    /// (noisy) vectors: per column the share of rows with a value a/(a + m), the mean and
    /// variance from the average Σz/n and Σz²/n over a (each clamped to what is possible) mapped
    /// back through the bounds, the category shares. Counts are these shares of `rows`, rounded.
    /// The result has no sketches (no median) and is consistent by construction.
    public static func statistics(average v: [Double], schema: DatasetSchema, bounds: [String: [Double]], rows: Int) throws(StatisticsError) -> SiteStatistics {
        guard v.count == length(schema: schema) else { throw .malformed("private statistics of \(v.count) entries, the schema needs \(length(schema: schema))") }
        guard v.allSatisfy(\.isFinite) else { throw .notFinite(feature: "*", field: "private statistics") }
        guard rows >= 0, rows <= SiteStatistics.maxRows else { throw .absurdCount(feature: "*", field: "rows", value: rows, limit: SiteStatistics.maxRows) }
        if let name = unbounded(schema: schema, bounds: bounds).first {
            throw .wrongFields(feature: name, detail: "no bounds [lo, hi] with lo < hi for this numeric column (preprocessing.bounds)")
        }
        var at = 0
        /// A numeric entry from [a, m, Σz/n, Σz²/n] at `at`.
        func numeric(_ name: String) -> SiteStatistics.Feature {
            let a = max(v[at], 0), m = max(v[at + 1], 0)
            let share = a + m > 0 ? a / (a + m) : 0
            let lo = bounds[name]![0], width = bounds[name]![1] - lo
            let count = Int((share * Double(rows)).rounded())
            var entry = SiteStatistics.Feature(name: name, count: count, missing: rows - count)
            let z1 = a > 0 ? min(max(v[at + 2] / a, 0), 1) : 0
            let z2 = a > 0 ? min(max(v[at + 3] / a, z1 * z1), 1) : 0
            at += 4
            let mean = lo + z1 * width, variance = (z2 - z1 * z1) * width * width
            entry.sum = mean * Double(count)
            entry.sumSquares = (variance + mean * mean) * Double(count)
            return entry
        }
        var features: [SiteStatistics.Feature] = []
        for column in schema.features {
            if column.type == .numeric {
                features.append(numeric(column.name))
            } else {
                let m = max(v[at + 1], 0)
                at += 2
                let fractions = v[at..<(at + column.values.count)].map { max($0, 0) }
                at += column.values.count
                let total = fractions.reduce(0, +)
                let count = total > 0 ? Int((total / (total + m) * Double(rows)).rounded()) : 0
                var counts = fractions.map { total > 0 ? Int(($0 / total * Double(count)).rounded(.down)) : 0 }
                if let top = counts.indices.max(by: { fractions[$0] < fractions[$1] }) { counts[top] += count - counts.reduce(0, +) }
                var entry = SiteStatistics.Feature(name: column.name, count: count, missing: rows - count)
                entry.categoryCounts = counts
                features.append(entry)
            }
        }
        return SiteStatistics(rows: rows, features: features, target: schema.label.isRegression ? numeric(schema.label.column) : nil)
    }
}
