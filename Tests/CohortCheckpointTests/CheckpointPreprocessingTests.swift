import CohortCheckpoint
import CohortData
import CohortNN
import CohortTensor
import Foundation
import XCTest

final class CheckpointPreprocessingTests: XCTestCase {
    private func fitted() throws -> FittedPreprocessing {
        let schema = DatasetSchema(label: .init(column: "y", classes: ["no", "yes"]),
                                   features: [FeatureColumn(name: "age", type: .numeric, missingPolicy: .median),
                                              FeatureColumn(name: "ward", type: .categorical, categories: ["A", "B"], missingPolicy: .mostFrequent)])
        let raw = try SchemaReader.read(bytes: Array("age,ward,y\n30,A,no\nNA,B,yes\n50,B,no\n".utf8), path: "d.csv", schema: schema)
        return try FittedPreprocessing.fit(schema: schema, rows: raw.allInputs)
    }

    private func model() throws -> Sequential {
        try Sequential(spec: ModelSpec(inputShape: [3], layers: [LayerSpec(.dense, name: "head", units: 2)]), seed: 1)
    }

    func testPreprocessingRoundTripsAndIsAbsentFromCheckpointsWithout() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let m = try model()
        let f = try fitted()
        try CheckpointFile.save(model: m, metadata: CheckpointMetadata(source: "t", preprocessing: f), to: dir.path("with.ckpt"))
        let loaded = try CheckpointFile.load(dir.path("with.ckpt"))
        XCTAssertEqual(loaded.metadata.preprocessing, f)
        XCTAssertEqual(loaded.metadata.preprocessing?.columns[0].fill, 40)
        // Without preprocessing the header carries no such key: the file is what older builds
        // wrote, and it reads back as nil.
        try CheckpointFile.save(model: m, metadata: CheckpointMetadata(source: "t"), to: dir.path("without.ckpt"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.path("without.ckpt")))
        XCTAssertNil(bytes.range(of: Data("preprocessing".utf8)))
        XCTAssertNil(try CheckpointFile.load(dir.path("without.ckpt")).metadata.preprocessing)
    }

    func testDamagedPreprocessingIsRefusedOnLoad() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        var f = try fitted()
        f.columns[0].scale = -1
        f.columns.removeLast()
        try CheckpointFile.save(model: try model(), metadata: CheckpointMetadata(source: "t", preprocessing: f), to: dir.path("bad.ckpt"))
        let message = "\(try XCTUnwrap({ () -> Error? in do { _ = try CheckpointFile.load(dir.path("bad.ckpt")); return nil } catch { return error } }()))"
        XCTAssertTrue(message.contains("metadata.preprocessing: preprocessing has 1 fitted columns for 2 features"), message)
    }
}
