import CohortData
import Foundation
import XCTest

/// `cohort datagen --kind tabular --schema FILE`: the written schema reads every generated CSV
/// by column name with the same rows and labels as the positional reader.
final class DatagenSchemaProcessTests: XCTestCase {
    func testDatagenSchemaReadsEveryGeneratedTable() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-datagen-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("cohort").path, schemaPath = dir.appendingPathComponent("s.json").path
        let r = try ProcessHarness.capture(["datagen", "--kind", "tabular", "--quick", "--sites", "3", "--out", out, "--schema", schemaPath])
        XCTAssertEqual(r.status, 0, r.stderr)
        let schema = try DatasetSchema.load(path: schemaPath)
        XCTAssertEqual(schema.label.classes, ["0", "1"])
        var manifest = try JSONDecoder().decode(CohortManifest.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/cohort.json")))
        manifest.directory = out
        XCTAssertEqual(schema.features.map(\.name), manifest.featureNames)
        for site in manifest.sites {
            let path = manifest.path(of: site.files.train)
            let byName = try SchemaReader.read(path: path, schema: schema)
            let byPosition = try SiteData.load(path: path, label: manifest.labelColumn ?? "target")
            XCTAssertEqual(byName.labelled.labels, byPosition.labelled.labels, site.name)
            XCTAssertEqual(byName.labelled.inputs.data, byPosition.labelled.inputs.data, site.name)
            XCTAssertEqual(byName.unlabelled.rows, site.counts.unlabelled, site.name)
        }
        let imaging = try ProcessHarness.capture(["datagen", "--kind", "imaging", "--quick", "--out", dir.appendingPathComponent("img").path, "--schema", schemaPath])
        XCTAssertNotEqual(imaging.status, 0)
        XCTAssertTrue(imaging.stderr.contains("--kind tabular"), imaging.stderr)
    }
}
