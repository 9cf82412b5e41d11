/// Fitting from merged site statistics (the federated statistics round).
extension FittedPreprocessing {
    /// Fits the preprocessing from statistics (usually `SiteStatistics.merge` of every site's,
    /// each validated) with the same rules as `fit(schema:rows:)` on the pooled rows: mean and
    /// population standard deviation from the sums, the median and a numeric column's most
    /// frequent value from the quantile sketch (exact while it is), categories by count (ties
    /// to the earlier one).
    /// A regression label's target gets its mean and standard deviation (and median when
    /// sketched) from `statistics.target`, as `fit(schema:rows:targets:)` from the pooled targets.
    /// - Throws: `StatisticsError.noValues` when a column whose policy needs a statistic has
    ///   no value at any site, or a regression label has no labelled row; `.needsSketch` when a numeric column's median or most frequent
    ///   value is asked for and the statistics carry no sketch (summed under secure aggregation).
    /// Learned categorical columns get their categories from the merged texts and counts
    /// (`LearnedCategories.resolve`: at least `minCount`, by descending count then text); the
    /// fit's schema lists them, marked `learned`.
    public static func fit(schema original: DatasetSchema, statistics: SiteStatistics) throws(StatisticsError) -> FittedPreprocessing {
        guard statistics.features.count == original.features.count else {
            throw .featureCount(got: statistics.features.count, expected: original.features.count)
        }
        let learned: [LearnedCategories.Counts?] = zip(original.features, statistics.features).map { feature, entry in
            feature.learnsCategories ? LearnedCategories.merge([(entry.categories ?? [], entry.categoryCounts ?? [])]) : nil
        }
        let schema = try LearnedCategories.resolve(original, counts: learned)
        var columns: [Column] = []
        for (j, (feature, entry)) in zip(schema.features, statistics.features).enumerated() {
            var column = Column(name: feature.name, fill: nil, center: 0, scale: 1, count: entry.count)
            switch feature.policy {
            case .mean, .median, .mostFrequent:
                guard entry.count > 0 else { throw .noValues(feature: feature.name, policy: feature.policy.rawValue, rows: statistics.rows) }
            default: break
            }
            if feature.type == .numeric {
                let n = Double(entry.count)
                let mean = entry.count == 0 ? 0 : (entry.sum ?? 0) / n
                let variance = entry.count == 0 ? 0 : max(0, (entry.sumSquares ?? 0) / n - mean * mean)
                let std = variance.squareRoot()
                let median = entry.sketch?.median ?? 0
                if entry.sketch == nil && (feature.policy == .median || feature.policy == .mostFrequent) {
                    throw .needsSketch(feature: feature.name, policy: feature.policy.rawValue)
                }
                column.fitNumeric(feature, mean: mean, std: std, median: median, mode: entry.sketch?.mode.map(Float.init))
                // Additive statistics only (secure aggregation): no median is known.
                if entry.sketch == nil { column.median = nil }
            } else if let found = learned[j] {
                let byText = Dictionary(zip(found.texts, found.counts), uniquingKeysWith: +)
                column.fitCategorical(feature, counts: feature.values.map { byText[$0] ?? 0 })
            } else {
                let counts = entry.categoryCounts ?? [Int](repeating: 0, count: feature.values.count)
                column.fitCategorical(feature, counts: counts)
            }
            columns.append(column)
        }
        var target: Column? = nil
        if schema.label.isRegression {
            let label = schema.label.column
            guard let t = statistics.target, t.count > 0 else { throw .noValues(feature: label, policy: "regression target", rows: statistics.rows) }
            let n = Double(t.count)
            let mean = (t.sum ?? 0) / n
            let std = max(0, (t.sumSquares ?? 0) / n - mean * mean).squareRoot()
            var c = Column(name: label, fill: nil, center: 0, scale: 1, count: t.count, mean: mean, std: std, median: t.sketch?.median)
            if schema.label.standardize ?? true {
                c.center = Float(mean)
                c.scale = Column.scale(standardDeviation: std)
            }
            target = c
        }
        return FittedPreprocessing(schema: schema, columns: columns, rows: statistics.rows, target: target)
    }

    /// This fit with the centre and scale of every standardised numeric column taken from a
    /// site's own statistics (per-site normalisation, the tabular analogue of FedBN): its mean
    /// and standard deviation. Fills and category statistics stay this fit's; a column the site
    /// has no value in keeps this fit's centre and scale.
    public func scaled(bySite site: SiteStatistics) -> FittedPreprocessing {
        var out = self
        for j in out.columns.indices where j < site.features.count && schema.features[j].type == .numeric && (schema.features[j].standardize ?? true) {
            let entry = site.features[j]
            guard entry.count > 0, let sum = entry.sum, let squares = entry.sumSquares else { continue }
            let mean = sum / Double(entry.count)
            let std = max(0, squares / Double(entry.count) - mean * mean).squareRoot()
            out.columns[j].center = Float(mean)
            out.columns[j].scale = Column.scale(standardDeviation: std)
        }
        return out
    }
}
