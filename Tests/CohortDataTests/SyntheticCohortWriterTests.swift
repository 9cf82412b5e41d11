import CohortData
import CohortNN
import CohortTensor
import Foundation
import XCTest

final class SyntheticCohortWriterTests: XCTestCase {
    private var dir = ""
    override func setUp() { dir = temporaryDirectory() }
    override func tearDown() { removeDirectory(dir) }

    /// Writes a cohort, reads the manifest back, and loads every file it names.
    private func roundTrip(_ config: SyntheticCohortConfig) throws -> CohortManifest {
        let out = dir + "/cohort"
        let written = try SyntheticCohort.write(config, to: out)
        let manifest = try CohortManifest.read(path: out)
        XCTAssertEqual(manifest, written)
        XCTAssertEqual(try CohortManifest.read(path: out + "/cohort.json"), written)
        XCTAssertEqual(manifest.sites.map(\.name), ["source"] + (1...config.hospitals).map { "hospital-\($0)" })
        for site in manifest.sites {
            for part in CohortManifest.Part.allCases {
                guard manifest.file(site, part) != nil else { continue }
                let data = try manifest.load(site, part)
                XCTAssertEqual(data.sampleShape, manifest.sampleShape)
                XCTAssertEqual(data.classes, manifest.classes)
                switch part {
                case .train:
                    XCTAssertEqual(data.labelled.count, site.counts.labelled, site.name)
                    XCTAssertEqual(data.unlabelled.rows, site.counts.unlabelled, site.name)
                    XCTAssertEqual(data.classCounts, site.labelledClassCounts, site.name)
                case .validation: XCTAssertEqual(data.labelled.count, site.counts.validation, site.name)
                case .test:
                    XCTAssertEqual(data.labelled.count, site.counts.test, site.name)
                    XCTAssertEqual(data.unlabelled.rows, 0)
                }
            }
            XCTAssertEqual(site.role == .source, site.files.validation != nil)
            XCTAssertEqual(site.role == .hospital, site.files.test != nil)
        }
        return manifest
    }

    func testImagingCohortWritesAManifestWhoseFilesAllLoad() throws {
        let config = SyntheticCohortConfig(kind: .imaging, seed: 1, preset: .quick)
        let manifest = try roundTrip(config)
        XCTAssertEqual(manifest.kind, .imaging)
        XCTAssertEqual(manifest.classNames, ["normal", "benign", "malignant"])
        XCTAssertEqual(manifest.sampleShape, [1, 32, 32])
        XCTAssertEqual(manifest.site(named: "hospital-2")?.files.train, "hospital-2/train.ctf")
        XCTAssertEqual(manifest.site(named: "hospital-4")?.counts, CohortManifest.Counts(labelled: 11, unlabelled: 209, validation: 0, test: 150))
        XCTAssertEqual(manifest.site(named: "hospital-2")?.parameters["resolution"], 16)
        // The files hold exactly what the generator made.
        let generated = SyntheticCohort.generate(config)
        let loaded = try manifest.load(manifest.site(named: "hospital-4")!, .train)
        XCTAssertEqual(loaded.labelled.inputs, generated.sites[4].train.labelled.inputs)
        XCTAssertEqual(loaded.unlabelled, generated.sites[4].train.unlabelled)
        XCTAssertEqual(try TensorFile.readHeader(path: manifest.path(of: "hospital-4/train.ctf")).meta?["site"], "hospital-4")
    }

    func testTabularCohortWritesCSVWithUnlabelledRows() throws {
        let manifest = try roundTrip(SyntheticCohortConfig(kind: .tabular, hospitals: 3, seed: 2, preset: .quick))
        XCTAssertEqual(manifest.labelColumn, "target")
        XCTAssertEqual(manifest.featureNames?.count, 10)
        let sparse = manifest.site(named: "hospital-2")!
        XCTAssertLessThan(sparse.counts.labelled, sparse.counts.unlabelled)
        let text = String(decoding: readBytes(manifest.path(of: sparse.files.train)), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("age,sex,bmi,systolic_bp,heart_rate,glucose,hba1c,creatinine,ldl,crp,target\n"))
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasSuffix(",") }.count, sparse.counts.unlabelled)
    }

    func testRefusesANonEmptyDirectoryUnlessForced() throws {
        let out = dir + "/cohort"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        writeBytes([1, 2, 3], to: out + "/notes.txt")
        let config = SyntheticCohortConfig(kind: .tabular, hospitals: 1, seed: 1, preset: .quick)
        XCTAssertEqual(errorMessage { try SyntheticCohort.write(config, to: out) },
                       "\(out): exists and is not empty (1 entries); refusing to overwrite without force")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/cohort.json"))
        try SyntheticCohort.write(config, to: out, force: true)
        XCTAssertEqual(readBytes(out + "/notes.txt"), [1, 2, 3], "force replaces the cohort's files only")
        XCTAssertNoThrow(try CohortManifest.read(path: out))
        writeBytes([1], to: dir + "/file")
        XCTAssertEqual(errorMessage { try SyntheticCohort.write(config, to: self.dir + "/file") }, "\(dir)/file: exists and is not a directory")
    }

    func testManifestReaderRefusesPathsOutsideTheDirectoryAndNewerVersions() throws {
        let out = dir + "/cohort"
        try SyntheticCohort.write(SyntheticCohortConfig(kind: .tabular, hospitals: 1, seed: 1, preset: .quick), to: out)
        let file = out + "/cohort.json"
        let original = String(decoding: readBytes(file), as: UTF8.self)
        func message(_ text: String) -> String {
            writeBytes(Array(text.utf8), to: file)
            return errorMessage { _ = try CohortManifest.read(path: out) }
        }
        XCTAssertEqual(message(original.replacingOccurrences(of: "\"hospital-1/test.csv\"", with: "\"../../etc/passwd.csv\"")),
                       "\(file): site 'hospital-1': file '../../etc/passwd.csv' must be a path inside the cohort directory")
        XCTAssertEqual(message(original.replacingOccurrences(of: "\"hospital-1/test.csv\"", with: "\"/etc/passwd.csv\"")),
                       "\(file): site 'hospital-1': file '/etc/passwd.csv' must be a path inside the cohort directory")
        XCTAssertEqual(message(original.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 2")),
                       "\(file): manifest version 2 is newer than this reader's 1")
        XCTAssertEqual(message("{}"), "\(file): not a valid cohort manifest: missing field 'format'")
        XCTAssertEqual(message(original), "ok")
    }

    /// The default imaging cohort's size (its generation time is printed, not asserted: speed
    /// lives in benchmarks, and a timed test fails on a loaded machine).
    func testDefaultImagingCohortGeneratesItsSites() {
        let start = ContinuousClock.now
        let cohort = SyntheticCohort.generate(SyntheticCohortConfig(kind: .imaging, seed: 1))
        let elapsed = ContinuousClock.now - start
        let scans = cohort.sites.reduce(0) { $0 + $1.train.count + ($1.validation?.count ?? 0) + ($1.test?.count ?? 0) }
        print("default imaging cohort (\(scans) scans) generated in \(elapsed)")
        XCTAssertEqual(cohort.sites.count, 6, "the source domain and five hospitals")
        XCTAssertGreaterThan(scans, 6000)
    }
}
