/// Reading training data with a schema: raw rows from every file, the validation split, the
/// statistics fitted on the training part only, and both parts encoded with them.
public enum SchemaPipeline {
    /// Training data ready for a model, with the preprocessing fitted on it.
    public struct Prepared: Sendable {
        /// Encoded training part (labelled and unlabelled rows).
        public var train: SiteData
        /// Encoded validation part.
        public var validation: SiteData
        /// The statistics, fitted on `train`'s rows (labelled and unlabelled).
        public var preprocessing: FittedPreprocessing
        /// The training and validation parts as read (raw rows, NaN for missing; learned
        /// categorical columns hold indices into `categories`), for a fit made elsewhere (the
        /// federated statistics round).
        public var rawTrain: SiteData
        public var rawValidation: SiteData
        /// The texts of the learned categorical columns the raw rows index (empty when the
        /// schema lists every column's categories).
        public var categories: CategoryDictionary
    }

    /// Reads `paths` with `schema` and pools them. Without `validationPath`, a seeded,
    /// class-stratified `validationFraction` of the labelled rows is held out (the same split
    /// `SiteData.split` makes); the statistics are fitted on the rest and applied to both.
    /// Learned categorical columns get their categories from the training part's counts
    /// (`LearnedCategories`).
    public static func prepare(paths: [String], schema: DatasetSchema, validationPath: String? = nil,
                               validationFraction: Double, seed: UInt64) throws -> Prepared {
        var categories = CategoryDictionary(schema: schema)
        let (trainRaw, validationRaw) = try readSplit(paths: paths, schema: schema, validationPath: validationPath,
                                                      validationFraction: validationFraction, seed: seed, categories: &categories)
        return try fitted(train: trainRaw, validation: validationRaw, schema: schema, source: paths.joined(separator: ", "), categories: categories)
    }

    /// The raw training and validation parts of `paths` (as `prepare` splits them), unfitted.
    /// Refuses a schema with learned categorical columns (use the `categories:` form).
    public static func readSplit(paths: [String], schema: DatasetSchema, validationPath: String? = nil,
                                 validationFraction: Double, seed: UInt64) throws -> (train: SiteData, validation: SiteData) {
        let raw = try SiteData.pool(try paths.map { try SchemaReader.read(path: $0, schema: schema) }, paths: paths)
        if let validationPath { return (raw, try SchemaReader.read(path: validationPath, schema: schema)) }
        return raw.split(validationFraction: validationFraction, seed: seed)
    }

    /// `readSplit` with the learned categorical columns' texts collected in `categories`
    /// (shared by every file, so the local indices agree).
    public static func readSplit(paths: [String], schema: DatasetSchema, validationPath: String? = nil, validationFraction: Double, seed: UInt64,
                                 categories: inout CategoryDictionary) throws -> (train: SiteData, validation: SiteData) {
        var parts: [SiteData] = []
        for path in paths { parts.append(try SchemaReader.read(path: path, schema: schema, categories: &categories)) }
        let raw = try SiteData.pool(parts, paths: paths)
        if let validationPath { return (raw, try SchemaReader.read(path: validationPath, schema: schema, categories: &categories)) }
        return raw.split(validationFraction: validationFraction, seed: seed)
    }

    /// Fits the statistics on raw `train` rows and encodes both parts; `source` names the data
    /// in errors. With learned categorical columns (`categories` from the reading), their
    /// categories are fixed from the training rows' counts first and the fit's schema lists them.
    public static func fitted(train trainRaw: SiteData, validation validationRaw: SiteData, schema: DatasetSchema, source: String,
                              categories: CategoryDictionary? = nil) throws -> Prepared {
        let dictionary = categories ?? CategoryDictionary(schema: schema)
        let fitted: FittedPreprocessing
        var train = trainRaw, validation = validationRaw
        do {
            var resolved = schema
            if !dictionary.isEmpty {
                resolved = try LearnedCategories.resolve(schema, counts: dictionary.counts(in: trainRaw.allInputs))
                train = try dictionary.resolve(trainRaw, with: resolved)
                validation = try dictionary.resolve(validationRaw, with: resolved)
            }
            fitted = try FittedPreprocessing.fit(schema: resolved, rows: train.allInputs, targets: train.labelled.targets)
        } catch let error as DataError {
            throw DataError("\(source): \(error.description)")
        } catch let error as StatisticsError {
            throw DataError("\(source): \(error.description)")
        }
        return Prepared(train: try fitted.apply(train), validation: try fitted.apply(validation), preprocessing: fitted,
                        rawTrain: trainRaw, rawValidation: validationRaw, categories: dictionary)
    }
}
