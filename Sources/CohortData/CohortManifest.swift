import Foundation

/// `cohort.json`: what a cohort directory holds, so an orchestrator can find every site's files.
///
/// Paths are relative to the directory holding the manifest. Read it with
/// `CohortManifest.read(path:)` and load a site's data with `load(_:_:)`.
public struct CohortManifest: Codable, Sendable, Equatable {
    /// Always `"cohort-manifest"`.
    public var format: String
    /// Manifest format version (1).
    public var version: Int
    /// Imaging or tabular.
    public var kind: CohortKind
    /// The generator's seed.
    public var seed: UInt64
    /// The size preset.
    public var preset: CohortPreset
    /// Number of classes.
    public var classes: Int
    /// Class names by label.
    public var classNames: [String]
    /// Shape of one sample: `[1, 32, 32]` (imaging) or `[10]` (tabular).
    public var sampleShape: [Int]
    /// Feature column names (tabular).
    public var featureNames: [String]?
    /// The label column of CSV files (tabular).
    public var labelColumn: String?
    /// The source first, then the hospitals.
    public var sites: [Site]
    /// The directory the manifest was read from or written to (not stored in the file).
    public var directory: String = "."

    /// The manifest's file name inside a cohort directory.
    public static let fileName = "cohort.json"
    /// The manifest format version this code writes and reads.
    public static let currentVersion = 1

    /// One site's entry.
    public struct Site: Codable, Sendable, Equatable {
        /// `source` or `hospital-1` … `hospital-N`.
        public var name: String
        /// Source or hospital.
        public var role: SiteRole
        /// Data files, relative to the cohort directory.
        public var files: Files
        /// Sample counts.
        public var counts: Counts
        /// Configured class prevalence of the site's population.
        public var prevalence: [Double]
        /// Labelled training samples per class, as generated.
        public var labelledClassCounts: [Int]
        /// The site's scanner (imaging) or population and calibration (tabular) parameters.
        public var parameters: [String: Double]

        /// A site entry.
        public init(name: String, role: SiteRole, files: Files, counts: Counts, prevalence: [Double], labelledClassCounts: [Int],
                    parameters: [String: Double]) {
            self.name = name; self.role = role; self.files = files; self.counts = counts; self.prevalence = prevalence
            self.labelledClassCounts = labelledClassCounts; self.parameters = parameters
        }
    }

    /// A site's data files, relative to the cohort directory.
    public struct Files: Codable, Sendable, Equatable {
        /// Training data (labelled and, at the sparse-label hospital, unlabelled samples).
        public var train: String
        /// Labelled validation data (source only).
        public var validation: String?
        /// Labelled held-out test data (hospitals only).
        public var test: String?

        /// Files of a site.
        public init(train: String, validation: String? = nil, test: String? = nil) {
            self.train = train; self.validation = validation; self.test = test
        }
    }

    /// A site's sample counts.
    public struct Counts: Codable, Sendable, Equatable {
        /// Labelled training samples.
        public var labelled: Int
        /// Unlabelled training samples.
        public var unlabelled: Int
        /// Validation samples.
        public var validation: Int
        /// Test samples.
        public var test: Int

        /// Counts of a site.
        public init(labelled: Int, unlabelled: Int, validation: Int, test: Int) {
            self.labelled = labelled; self.unlabelled = unlabelled; self.validation = validation; self.test = test
        }
    }

    /// Which of a site's files.
    public enum Part: String, Sendable, CaseIterable {
        case train, validation, test
    }

    private enum CodingKeys: String, CodingKey {
        case format, version, kind, seed, preset, classes, classNames, sampleShape, featureNames, labelColumn, sites
    }

    /// A manifest with every field given.
    public init(kind: CohortKind, seed: UInt64, preset: CohortPreset, classes: Int, classNames: [String], sampleShape: [Int],
                featureNames: [String]?, labelColumn: String?, sites: [Site], directory: String) {
        format = "cohort-manifest"; version = Self.currentVersion
        self.kind = kind; self.seed = seed; self.preset = preset; self.classes = classes; self.classNames = classNames
        self.sampleShape = sampleShape; self.featureNames = featureNames; self.labelColumn = labelColumn; self.sites = sites
        self.directory = directory
    }

    /// The site named `name`, if any.
    public func site(named name: String) -> Site? { sites.first { $0.name == name } }

    /// The hospitals, in manifest order.
    public var hospitals: [Site] { sites.filter { $0.role == .hospital } }

    /// The source site, if any.
    public var source: Site? { sites.first { $0.role == .source } }

    /// The full path of a file named in the manifest.
    public func path(of relative: String) -> String { (directory as NSString).appendingPathComponent(relative) }

    /// The relative path of one of a site's files, if it has that part.
    public func file(_ site: Site, _ part: Part) -> String? {
        switch part {
        case .train: return site.files.train
        case .validation: return site.files.validation
        case .test: return site.files.test
        }
    }

    /// Loads one of a site's files.
    ///
    /// - Throws: `DataError` when the site has no such part or the file is unusable.
    public func load(_ site: Site, _ part: Part) throws -> SiteData {
        guard let relative = file(site, part) else { throw DataError("\(path(of: Self.fileName)): site '\(site.name)' has no \(part.rawValue) file") }
        let data = try SiteData.load(path: path(of: relative), label: labelColumn ?? "target", classes: classes)
        guard data.sampleShape == sampleShape, data.classes == classes else {
            throw DataError("\(path(of: relative)): samples \(data.sampleShape) with \(data.classes) classes, the manifest says \(sampleShape) with \(classes)")
        }
        return data
    }

    /// Reads a manifest from a cohort directory or from the manifest file itself, checking that
    /// every field is consistent and every file path stays inside the directory.
    ///
    /// - Throws: `DataError` naming the manifest file and the field.
    public static func read(path: String) throws -> CohortManifest {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? (path as NSString).appendingPathComponent(fileName) : path
        guard let data = FileManager.default.contents(atPath: file) else { throw DataError("\(file): cannot read the cohort manifest") }
        guard data.count <= 16 << 20 else { throw DataError("\(file): \(data.count) bytes, more than a manifest's 16 MiB limit") }
        var manifest: CohortManifest
        do { manifest = try JSONDecoder().decode(CohortManifest.self, from: data) } catch {
            throw DataError("\(file): not a valid cohort manifest: \(TensorFile.describe(error))")
        }
        manifest.directory = (file as NSString).deletingLastPathComponent
        if manifest.directory.isEmpty { manifest.directory = "." }
        try manifest.validate(file: file)
        return manifest
    }

    /// Writes the manifest to `directory/cohort.json` atomically.
    public func write() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicDataFileWriter.write(Array(try encoder.encode(self)) + [0x0A], to: path(of: Self.fileName))
    }

    private func validate(file: String) throws {
        func fail(_ reason: String) -> DataError { DataError("\(file): \(reason)") }
        guard format == "cohort-manifest" else { throw fail("field 'format' is '\(format)', expected 'cohort-manifest'") }
        guard version >= 1 else { throw fail("unsupported manifest version \(version)") }
        guard version <= Self.currentVersion else { throw fail("manifest version \(version) is newer than this reader's \(Self.currentVersion)") }
        guard classes >= 1, classNames.count == classes else { throw fail("field 'classNames' has \(classNames.count) names for \(classes) classes") }
        guard !sampleShape.isEmpty, sampleShape.allSatisfy({ $0 >= 1 }) else { throw fail("field 'sampleShape' \(sampleShape) must be non-empty and positive") }
        var names = Set<String>()
        for site in sites {
            guard names.insert(site.name).inserted else { throw fail("site '\(site.name)' appears twice") }
            for relative in [site.files.train, site.files.validation, site.files.test].compactMap({ $0 }) {
                let parts = relative.split(separator: "/")
                guard !relative.isEmpty, !relative.hasPrefix("/"), !parts.contains("..") else {
                    throw fail("site '\(site.name)': file '\(relative)' must be a path inside the cohort directory")
                }
            }
            guard site.prevalence.count == classes else { throw fail("site '\(site.name)': prevalence has \(site.prevalence.count) entries for \(classes) classes") }
        }
    }
}
