import CohortNN
import CohortTensor
import Foundation

/// A schema with the statistics fitted on training rows: per feature the value that fills a
/// missing cell and, for numeric features, the centre and scale used to standardise. Stored in
/// checkpoints (`protocols/checkpoint.md`) so every command that reads data applies exactly
/// the same transformation to raw CSV.
public struct FittedPreprocessing: Codable, Equatable, Sendable {
    /// The fitted values of one feature.
    public struct Column: Codable, Equatable, Sendable {
        /// The feature's name (as in the schema).
        public var name: String
        /// Raw value that replaces a missing cell (a number, or a category index), or nil when
        /// the column's policy is `error` or `drop-row`.
        public var fill: Float?
        /// Subtracted from a numeric value (the fitted mean; 0 when not standardised).
        public var center: Float
        /// Divides a numeric value after centring (the fitted standard deviation, or 1).
        public var scale: Float
        /// Non-missing training values the statistics came from.
        public var count: Int
        /// Numeric: fitted mean, standard deviation and median; categorical and binary: the
        /// training count of each category.
        public var mean: Double?
        public var std: Double?
        public var median: Double?
        public var categoryCounts: [Int]?
    }

    /// The schema the statistics belong to.
    public var schema: DatasetSchema
    /// One entry per schema feature, in order.
    public var columns: [Column]
    /// Training rows the statistics were fitted on.
    public var rows: Int
    /// Regression only: the target's fitted statistics (`center`/`scale` standardise it;
    /// `mean`, `std`, `median`, `count` as for a numeric feature). Nil for classification.
    public var target: Column?
    /// Fitted in a statistics round under differential privacy: σ of its release (the
    /// coordinator's accountant takes this step again when it resumes from the checkpoint).
    public var noiseMultiplier: Double? = nil

    /// A preprocessing from its parts.
    public init(schema: DatasetSchema, columns: [Column], rows: Int, target: Column? = nil) {
        self.schema = schema
        self.columns = columns
        self.rows = rows
        self.target = target
    }

    /// How the targets are standardised (regression only).
    public var targetScaling: TargetScaling? {
        target.map { TargetScaling(center: [$0.center], scale: [$0.scale]) }
    }

    /// Class names, in class-index order.
    public var classNames: [String] { schema.label.classes }

    /// Fits the statistics on `rows` (raw rows from `SchemaReader`, `[n, schema.features.count]`,
    /// NaN for missing). Means and standard deviations (population) skip missing cells; the
    /// most frequent value breaks ties by the smaller value or the earlier category.
    /// For a regression schema `targets` are the labelled rows' raw targets (`[m, 1]`), whose
    /// mean and standard deviation standardise the target.
    /// - Throws: `DataError` when a column whose policy needs a statistic has no value at all,
    ///   or a regression schema comes without targets (or with no labelled row).
    public static func fit(schema: DatasetSchema, rows raw: Tensor, targets: Tensor? = nil) throws -> FittedPreprocessing {
        let f = schema.features.count
        guard raw.rank == 2, raw.columns == f else { throw DataError("raw rows \(raw.shape) do not have the schema's \(f) features") }
        let learned = schema.learnedColumns
        guard learned.isEmpty else {
            throw DataError("column\(learned.count == 1 ? "" : "s") \(HeaderMatch.quoted(learned)) still learn\(learned.count == 1 ? "s its" : " their") categories: fit with the rows' CategoryDictionary (SchemaPipeline.fitted) or the statistics round")
        }
        let n = raw.rows
        var columns: [Column] = []
        var problems: [String] = []
        var values: [Float] = []
        values.reserveCapacity(n)
        for (j, feature) in schema.features.enumerated() {
            values.removeAll(keepingCapacity: true)
            raw.data.withUnsafeBufferPointer { p in
                for i in 0..<n where !p[i * f + j].isNaN { values.append(p[i * f + j]) }
            }
            var column = Column(name: feature.name, fill: nil, center: 0, scale: 1, count: values.count)
            let needsValue: Bool
            switch feature.policy {
            case .mean, .median, .mostFrequent: needsValue = true
            default: needsValue = false
            }
            if needsValue && values.isEmpty {
                problems.append("column '\(feature.name)': no values in the \(n) training rows to fit the '\(feature.policy.rawValue)' fill")
                columns.append(column)
                continue
            }
            if feature.type == .numeric {
                let (mean, std) = Self.meanAndStandardDeviation(values)
                let sorted = values.sorted()
                let median = Self.median(sorted)
                column.fitNumeric(feature, mean: mean, std: std, median: median, mode: mode(sorted))
            } else {
                var counts = [Int](repeating: 0, count: feature.values.count)
                for v in values { let k = Int(v); if k >= 0 && k < counts.count { counts[k] += 1 } }
                column.fitCategorical(feature, counts: counts)
            }
            columns.append(column)
        }
        var target: Column? = nil
        if schema.label.isRegression {
            if let targets, targets.count > 0 {
                target = fitTarget(schema.label, values: targets.data)
            } else {
                problems.append("label '\(schema.label.column)': no labelled rows to fit the regression target's mean and standard deviation")
            }
        }
        guard problems.isEmpty else { throw DataError(problems.joined(separator: "; ")) }
        return FittedPreprocessing(schema: schema, columns: columns, rows: n, target: target)
    }

    /// The target's statistics; centre and scale are the mean and standard deviation unless
    /// the label says `standardize: false`.
    private static func fitTarget(_ label: DatasetSchema.LabelColumn, values: [Float]) -> Column {
        let (mean, std) = Self.meanAndStandardDeviation(values)
        let sorted = values.sorted()
        let median = Self.median(sorted)
        var c = Column(name: label.column, fill: nil, center: 0, scale: 1, count: values.count, mean: mean, std: std, median: median)
        if label.standardize ?? true {
            c.center = Float(mean)
            c.scale = Column.scale(standardDeviation: std)
        }
        return c
    }

    /// The most frequent value of sorted values (the smallest on a tie).
    /// Mean and population standard deviation in Double (two passes; 0 and 0 when empty).
    private static func meanAndStandardDeviation(_ values: [Float]) -> (mean: Double, std: Double) {
        guard !values.isEmpty else { return (0, 0) }
        var sum = 0.0
        for v in values { sum += Double(v) }
        let mean = sum / Double(values.count)
        var squares = 0.0
        for v in values { squares += (Double(v) - mean) * (Double(v) - mean) }
        return (mean, (squares / Double(values.count)).squareRoot())
    }

    /// The median of ascending values (the mean of the two middle ones for an even count; 0 when empty).
    private static func median(_ sorted: [Float]) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let m = sorted.count / 2
        return sorted.count % 2 == 1 ? Double(sorted[m]) : 0.5 * (Double(sorted[m - 1]) + Double(sorted[m]))
    }

    private static func mode(_ sorted: [Float]) -> Float? {
        var best: Float? = nil, bestCount = 0, i = 0
        while i < sorted.count {
            var j = i
            while j < sorted.count && sorted[j] == sorted[i] { j += 1 }
            if j - i > bestCount { best = sorted[i]; bestCount = j - i }
            i = j
        }
        return best
    }

    /// Values per encoded sample.
    public var encodedWidth: Int { schema.encodedWidth }

    /// Turns raw rows into model inputs `[n, encodedWidth]`: fills missing cells, standardises
    /// numeric values, one-hot encodes categories, appends missing indicators.
    /// - Throws: `DataError` for a missing cell with no fill or a category index out of range.
    public func encode(_ raw: Tensor) throws -> Tensor {
        let f = schema.features.count
        guard raw.rank == 2, raw.columns == f else { throw DataError("raw rows \(raw.shape) do not have the schema's \(f) features") }
        let width = encodedWidth
        var out = [Float](repeating: 0, count: raw.rows * width)
        try raw.data.withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<raw.rows {
                    var o = i * width
                    for (j, feature) in schema.features.enumerated() {
                        let c = columns[j]
                        var v = src[i * f + j]
                        let missing = v.isNaN
                        if missing {
                            guard let fill = c.fill else { throw DataError("column '\(feature.name)': a missing value in raw row \(i) and no fill") }
                            v = fill
                        }
                        switch feature.type {
                        case .numeric:
                            dst[o] = (v - c.center) / c.scale
                            o += 1
                        case .binary:
                            dst[o] = v
                            o += 1
                        case .categorical:
                            let count = feature.values.count
                            // -1: a value not among the categories, under `unknown: ignore` (all zeros).
                            if !(v == -1 && feature.ignoresUnknown) {
                                guard v >= 0, v < Float(count) else { throw DataError("column '\(feature.name)': category index \(v) outside 0..<\(count)") }
                                dst[o + Int(v)] = 1
                            }
                            o += count
                        }
                        if feature.hasIndicator {
                            dst[o] = missing ? 1 : 0
                            o += 1
                        }
                    }
                }
            }
        }
        return Tensor(shape: [raw.rows, width], data: out)
    }

    /// Encodes a site's raw data (from `SchemaReader`), labelled and unlabelled rows alike.
    /// Regression targets are standardised with the fitted target statistics and carry their
    /// `TargetScaling`, so metrics come back in the original units.
    public func apply(_ raw: SiteData) throws -> SiteData {
        let inputs = try encode(raw.labelled.inputs)
        if schema.label.isRegression {
            guard let target, let targets = raw.labelled.targets, targets.columns == 1 else {
                throw DataError("label '\(schema.label.column)': regression data without fitted target statistics or with \(raw.labelled.targets?.columns ?? 0) target columns")
            }
            var t = targets.data
            for i in t.indices { t[i] = (t[i] - target.center) / target.scale }
            return SiteData(labelled: LabelledData(inputs: inputs, targets: Tensor(shape: targets.shape, data: t), scaling: targetScaling),
                            unlabelled: try encode(raw.unlabelled), sampleShape: [encodedWidth], classes: 1,
                            featureNames: schema.encodedNames, classNames: nil)
        }
        return SiteData(labelled: LabelledData(inputs: inputs, labels: raw.labelled.labels),
                        unlabelled: try encode(raw.unlabelled), sampleShape: [encodedWidth], classes: schema.label.classes.count,
                        featureNames: schema.encodedNames, classNames: schema.label.classes)
    }

    /// Every data row of a CSV file, in file order, encoded as model inputs `[n, encodedWidth]`
    /// for prediction: the label column may be absent and is ignored.
    public func predictionInputs(path: String) throws -> Tensor {
        try encode(SchemaReader.read(path: path, schema: schema, predicting: true).unlabelled)
    }

    /// Reads a CSV file with this preprocessing's schema and encodes it.
    public func load(path: String) throws -> SiteData {
        try apply(SchemaReader.read(path: path, schema: schema))
    }

    /// Checks a decoded value (e.g. from a checkpoint): a valid schema, one column per feature
    /// with matching names, finite statistics, positive scales, fills in range.
    public func validate(source: String) throws {
        try schema.validate(source: source)
        guard columns.count == schema.features.count else {
            throw DataError("\(source): preprocessing has \(columns.count) fitted columns for \(schema.features.count) features")
        }
        var problems: [String] = []
        let learned = schema.learnedColumns
        if !learned.isEmpty { problems.append("column\(learned.count == 1 ? "" : "s") \(HeaderMatch.quoted(learned)) without fitted categories") }
        for (c, feature) in zip(columns, schema.features) {
            if c.name != feature.name { problems.append("fitted column '\(c.name)' where the schema has '\(feature.name)'") }
            if !c.center.isFinite || !c.scale.isFinite || c.scale <= 0 { problems.append("column '\(c.name)': centre \(c.center), scale \(c.scale)") }
            if let fill = c.fill {
                if !fill.isFinite { problems.append("column '\(c.name)': fill \(fill)") }
                if feature.type != .numeric && !(fill >= 0 && Int(fill) < feature.values.count && fill == fill.rounded()) {
                    problems.append("column '\(c.name)': fill \(fill) is not a category index below \(feature.values.count)")
                }
            }
            if c.fill == nil, [.mean, .median, .mostFrequent, .constant].contains(feature.policy) {
                problems.append("column '\(c.name)': policy '\(feature.policy.rawValue)' without a fitted fill")
            }
        }
        if schema.label.isRegression {
            if let t = target {
                if !t.center.isFinite || !t.scale.isFinite || t.scale <= 0 { problems.append("target '\(t.name)': centre \(t.center), scale \(t.scale)") }
            } else {
                problems.append("a regression label without fitted target statistics")
            }
        } else if target != nil {
            problems.append("target statistics for a classification label")
        }
        guard problems.isEmpty else { throw DataError("\(source): preprocessing: " + problems.joined(separator: "; ")) }
    }
}
