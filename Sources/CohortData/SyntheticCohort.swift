import Foundation

/// The entry point for synthetic multi-site cohorts: generate in memory, or write a cohort
/// directory with its manifest.
///
/// Layout of a written cohort (paths relative to the output directory; `ext` is `ctf` for
/// imaging and `csv` for tabular):
///
/// ```
/// cohort.json                 the manifest (CohortManifest), written last
/// source/train.ext            source training data (all labelled)
/// source/val.ext              source validation data
/// hospital-1/train.ext        hospital training data (label −1 / empty = unlabelled)
/// hospital-1/test.ext         hospital held-out test data (all labelled)
/// …                           hospital-2 … hospital-N, by ascending training size
/// ```
public enum SyntheticCohort {
    /// Generates the cohort `config` describes.
    public static func generate(_ config: SyntheticCohortConfig) -> GeneratedCohort {
        switch config.kind {
        case .imaging: return SyntheticImagingCohort.generate(config)
        case .tabular: return SyntheticTabularCohort.generate(config)
        }
    }

    /// Generates the cohort and writes it to `directory` (see the type's documentation).
    ///
    /// - Parameter force: allow a non-empty existing directory; files of the same names are
    ///   replaced, other files are left alone.
    /// - Throws: `OutputNotEmpty` when `directory` exists and is not empty (without `force`);
    ///   `DataError` when it is not a directory or a file cannot be written.
    @discardableResult
    public static func write(_ config: SyntheticCohortConfig, to directory: String, force: Bool = false) throws -> CohortManifest {
        try prepare(directory, force: force)
        return try write(generate(config), to: directory, force: true)
    }

    /// Writes a generated cohort to `directory`; the manifest comes last, so its presence means
    /// every file it names is complete.
    @discardableResult
    public static func write(_ cohort: GeneratedCohort, to directory: String, force: Bool = false) throws -> CohortManifest {
        try prepare(directory, force: force)
        let ext = cohort.config.kind == .imaging ? "ctf" : "csv"
        var sites: [CohortManifest.Site] = []
        for site in cohort.sites {
            let name = site.plan.name
            try createDirectory((directory as NSString).appendingPathComponent(name))
            func save(_ data: SiteData, _ file: String) throws -> String {
                let relative = "\(name)/\(file).\(ext)"
                let path = (directory as NSString).appendingPathComponent(relative)
                if ext == "ctf" {
                    try TensorFile.write(data, to: path, meta: ["generator": "cohort datagen", "kind": cohort.config.kind.rawValue,
                                                                 "seed": String(cohort.config.seed), "site": name, "part": file])
                } else {
                    try CSVDataset.write(data, to: path, label: "target")
                }
                return relative
            }
            let files = CohortManifest.Files(train: try save(site.train, "train"),
                                             validation: try site.validation.map { try save($0, "val") },
                                             test: try site.test.map { try save($0, "test") })
            sites.append(CohortManifest.Site(
                name: name, role: site.plan.role, files: files,
                counts: CohortManifest.Counts(labelled: site.train.labelled.count, unlabelled: site.train.unlabelled.rows,
                                              validation: site.validation?.labelled.count ?? 0, test: site.test?.labelled.count ?? 0),
                prevalence: site.plan.prevalence, labelledClassCounts: site.train.classCounts, parameters: site.parameters))
        }
        let manifest = CohortManifest(kind: cohort.config.kind, seed: cohort.config.seed, preset: cohort.config.preset,
                                      classes: cohort.classes, classNames: cohort.classNames, sampleShape: cohort.sampleShape,
                                      featureNames: cohort.featureNames, labelColumn: ext == "csv" ? "target" : nil, sites: sites,
                                      directory: directory)
        try manifest.write()
        return manifest
    }

    /// Checks `directory` is absent, empty, or `force` is set, and creates it.
    static func prepare(_ directory: String, force: Bool) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw DataError("\(directory): exists and is not a directory") }
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            guard contents.isEmpty || force else {
                throw OutputNotEmpty(directory: directory, entries: contents.count)
            }
        }
        try createDirectory(directory)
    }

    private static func createDirectory(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw DataError("\(path): cannot create directory: \(error.localizedDescription)")
        }
    }
}

/// An output folder that exists and holds files, where writing without `force` would mix old
/// and new files.
public struct OutputNotEmpty: Error, CustomStringConvertible, Sendable {
    public let directory: String
    public let entries: Int
    public var description: String { "\(directory): exists and is not empty (\(entries) entries); refusing to overwrite without force" }
}
