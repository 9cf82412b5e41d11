/// The rules that turn category counts into a learned column's list of categories, shared by a
/// local fit (one site's training rows) and the federated statistics round (every site's
/// counts merged), so both give the same list for the same pooled rows.
/// Spec: protocols/dataset-schema.md, "Categories learned in federation".
public enum LearnedCategories {
    /// Texts with their counts (texts distinct; any order).
    public typealias Counts = (texts: [String], counts: [Int])

    /// Several parts' counts added by value, in text order. When every text is a number,
    /// values are compared as numbers (`1.0` and `1` are one value, written `1`), as
    /// `ClassMatcher` compares listed numeric categories.
    public static func merge(_ parts: [Counts]) -> Counts {
        let numeric = ClassMatcher.allNumeric(parts.flatMap(\.texts))
        var total: [String: Int] = [:]
        for part in parts {
            for (text, count) in zip(part.texts, part.counts) {
                total[ClassMatcher.canonical(text, numeric: numeric), default: 0] += count
            }
        }
        let texts = total.keys.sorted()
        return (texts, texts.map { total[$0]! })
    }

    /// The categories kept, in encoding order: values counted at least `minCount` times, by
    /// descending count, ties by text (ascending). Returns the categories and their counts.
    public static func order(_ merged: Counts, minCount: Int) -> Counts {
        let kept = zip(merged.texts, merged.counts).filter { $0.1 >= max(minCount, 1) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        return (kept.map(\.0), kept.map(\.1))
    }

    /// `schema` with every learned column's categories fixed from `counts` (one entry per
    /// feature, nil for the others): the kept values in `order`'s order, marked `learned`.
    /// - Throws: `StatisticsError.noCategories` when a learned column keeps no value.
    public static func resolve(_ schema: DatasetSchema, counts: [Counts?]) throws(StatisticsError) -> DatasetSchema {
        var out = schema
        for (j, feature) in schema.features.enumerated() where feature.learnsCategories {
            let merged: Counts = j < counts.count ? counts[j] ?? ([], []) : ([], [])
            let kept = order(merge([merged]), minCount: feature.minCount ?? 1)
            guard !kept.texts.isEmpty else {
                throw .noCategories(feature: feature.name, seen: merged.texts.count, minCount: feature.minCount ?? 1)
            }
            let limit = DatasetSchema.Limits().categories
            guard kept.texts.count <= limit else { throw .tooManyCategories(feature: feature.name, count: kept.texts.count, limit: limit) }
            out.features[j].categories = kept.texts
            out.features[j].learned = true
        }
        return out
    }
}
