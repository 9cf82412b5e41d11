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
        /// The training and validation parts as read (raw rows, NaN for missing), for a fit
        /// made elsewhere (the federated statistics round).
        public var rawTrain: SiteData
        public var rawValidation: SiteData
    }

    /// Reads `paths` with `schema` and pools them. Without `validationPath`, a seeded,
    /// class-stratified `validationFraction` of the labelled rows is held out (the same split
    /// `SiteData.split` makes); the statistics are fitted on the rest and applied to both.
    public static func prepare(paths: [String], schema: DatasetSchema, validationPath: String? = nil,
                               validationFraction: Double, seed: UInt64) throws -> Prepared {
        let (trainRaw, validationRaw) = try readSplit(paths: paths, schema: schema, validationPath: validationPath,
                                                      validationFraction: validationFraction, seed: seed)
        return try fitted(train: trainRaw, validation: validationRaw, schema: schema, source: paths.joined(separator: ", "))
    }

    /// The raw training and validation parts of `paths` (as `prepare` splits them), unfitted.
    public static func readSplit(paths: [String], schema: DatasetSchema, validationPath: String? = nil,
                                 validationFraction: Double, seed: UInt64) throws -> (train: SiteData, validation: SiteData) {
        let raw = try SiteData.pool(try paths.map { try SchemaReader.read(path: $0, schema: schema) }, paths: paths)
        if let validationPath { return (raw, try SchemaReader.read(path: validationPath, schema: schema)) }
        return raw.split(validationFraction: validationFraction, seed: seed)
    }

    /// Fits the statistics on raw `train` rows and encodes both parts; `source` names the data in errors.
    public static func fitted(train trainRaw: SiteData, validation validationRaw: SiteData, schema: DatasetSchema, source: String) throws -> Prepared {
        let fitted: FittedPreprocessing
        do { fitted = try FittedPreprocessing.fit(schema: schema, rows: trainRaw.allInputs, targets: trainRaw.labelled.targets) } catch let error as DataError {
            throw DataError("\(source): \(error.description)")
        }
        return Prepared(train: try fitted.apply(trainRaw), validation: try fitted.apply(validationRaw), preprocessing: fitted,
                        rawTrain: trainRaw, rawValidation: validationRaw)
    }
}
