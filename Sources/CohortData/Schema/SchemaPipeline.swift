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
    }

    /// Reads `paths` with `schema` and pools them. Without `validationPath`, a seeded,
    /// class-stratified `validationFraction` of the labelled rows is held out (the same split
    /// `SiteData.split` makes); the statistics are fitted on the rest and applied to both.
    public static func prepare(paths: [String], schema: DatasetSchema, validationPath: String? = nil,
                               validationFraction: Double, seed: UInt64) throws -> Prepared {
        let raw = try SiteData.pool(try paths.map { try SchemaReader.read(path: $0, schema: schema) }, paths: paths)
        let trainRaw: SiteData, validationRaw: SiteData
        if let validationPath {
            trainRaw = raw
            validationRaw = try SchemaReader.read(path: validationPath, schema: schema)
        } else {
            (trainRaw, validationRaw) = raw.split(validationFraction: validationFraction, seed: seed)
        }
        let fitted: FittedPreprocessing
        do { fitted = try FittedPreprocessing.fit(schema: schema, rows: trainRaw.allInputs, targets: trainRaw.labelled.targets) } catch let error as DataError {
            throw DataError("\(paths.joined(separator: ", ")): \(error.description)")
        }
        return Prepared(train: try fitted.apply(trainRaw), validation: try fitted.apply(validationRaw), preprocessing: fitted)
    }
}
