import CohortCheckpoint
import CohortData
import CohortNN
import CohortTensor
import Foundation
import XCTest

/// `cohort predict` through the real binary: its logits equal the model's own forward pass.
final class PredictProcessTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-predict-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { if let dir { try? FileManager.default.removeItem(at: dir) } }

    private func p(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A fresh checkpoint of `arch` via `cohort model init`, and the same model in process.
    private func initModel(_ arch: String, name: String) throws -> Sequential {
        try arch.write(toFile: p(name + ".json"), atomically: true, encoding: .utf8)
        let r = try ProcessHarness.capture(["model", "init", "--arch", p(name + ".json"), "--seed", "3", "--out", p(name + ".ckpt")])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try CheckpointFile.load(p(name + ".ckpt")).makeModel(path: p(name + ".ckpt"))
    }

    private func values(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in rng.normal() }
    }

    private func assertClose(_ got: [Float], _ want: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        let worst = zip(got, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1e-6, "\(what): largest relative difference \(worst)", file: file, line: line)
    }

    func testNpyInputToNpyAndCsvLogits() throws {
        let model = try initModel(#"{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},{"kind":"relu","name":"features.1"},{"kind":"dense","name":"head","units":3}]}"#, name: "small")
        let x = values(37 * 6, seed: 1)
        try NumpyFile.write(values: x, shape: [37, 6], to: p("x.npy"))
        let r = try ProcessHarness.capture(["predict", p("small.ckpt"), "--data", p("x.npy"), "--batch-size", "8", "--out", p("y.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("predict: 37/37 samples"), r.stderr)
        let y = try NumpyFile.read(path: p("y.npy"))
        XCTAssertEqual(y.shape, [37, 3])
        XCTAssertEqual(y.dtype, .float32)
        let expected = model.forward(Tensor(shape: [37, 6], data: x), mode: .evaluation)
        assertClose(y.values, expected.data, "npy logits")

        // The CSV output holds the same float32 values, exactly, under a logit_k header.
        let c = try ProcessHarness.capture(["predict", p("small.ckpt"), "--data", p("x.npy"), "--batch-size", "8", "--out", p("y.csv")])
        XCTAssertEqual(c.status, 0, c.stderr)
        let lines = try String(contentsOfFile: p("y.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "logit_0,logit_1,logit_2")
        XCTAssertEqual(lines.count, 38)
        let parsed = lines.dropFirst().flatMap { $0.split(separator: ",").map { Float(String($0))! } }
        XCTAssertEqual(parsed.map(\.bitPattern), y.values.map(\.bitPattern))

        // A CSV input without a label column gives the same logits as the array.
        var table = "a,b,c,d,e,f\n"
        for row in 0..<37 { table += (0..<6).map { "\(x[row * 6 + $0])" }.joined(separator: ",") + "\n" }
        try table.write(toFile: p("x.csv"), atomically: true, encoding: .utf8)
        let t = try ProcessHarness.capture(["predict", p("small.ckpt"), "--data", p("x.csv"), "--batch-size", "8", "--out", p("t.npy")])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertEqual(try NumpyFile.read(path: p("t.npy")).values.map(\.bitPattern), y.values.map(\.bitPattern))

        // Wrong widths and formats are one-line errors.
        try NumpyFile.write(values: values(10, seed: 2), shape: [2, 5], to: p("bad.npy"))
        let bad = try ProcessHarness.capture(["predict", p("small.ckpt"), "--data", p("bad.npy"), "--out", p("z.npy")])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("gives samples of shape [5], but the model takes input [6]"), bad.stderr)
        let ext = try ProcessHarness.capture(["predict", p("small.ckpt"), "--data", p("x.npy"), "--out", p("z.txt")])
        XCTAssertEqual(ext.status, 1)
        XCTAssertTrue(ext.stderr.contains("unknown output extension"), ext.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p("z.npy")))
    }

    func testNchwImageArray() throws {
        let arch = #"{"inputShape":[8,8,3],"layers":[{"kind":"conv2d","name":"features.0","units":4,"kernel":3},{"kind":"relu","name":"features.1"},{"kind":"flatten","name":"flat"},{"kind":"dense","name":"head","units":2}]}"#
        let model = try initModel(arch, name: "cnn")
        let nchw = Tensor(shape: [5, 3, 8, 8], data: values(5 * 3 * 64, seed: 4))
        try NumpyFile.write(values: nchw.data, shape: nchw.shape, to: p("img.npy"))
        let r = try ProcessHarness.capture(["predict", p("cnn.ckpt"), "--data", p("img.npy"), "--layout", "nchw", "--out", p("y.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let y = try NumpyFile.read(path: p("y.npy"))
        XCTAssertEqual(y.shape, [5, 2])
        let expected = model.forward(nchw.nchwToNHWC()!, mode: .evaluation)
        assertClose(y.values, expected.data, "nchw logits")
        // Read as NHWC (the default) the same array does not fit, and the error says why.
        let wrong = try ProcessHarness.capture(["predict", p("cnn.ckpt"), "--data", p("img.npy"), "--out", p("w.npy")])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("looks channels-first: give layout nchw"), wrong.stderr)
        let layout = try ProcessHarness.capture(["predict", p("cnn.ckpt"), "--data", p("img.npy"), "--layout", "chw", "--out", p("w.npy")])
        XCTAssertEqual(layout.status, 2)
        XCTAssertTrue(layout.stderr.contains("expects nchw or nhwc"), layout.stderr)
    }
}
