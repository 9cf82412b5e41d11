import CohortData
import CohortNN
import CohortTensor
import Foundation
import XCTest

final class PredictionInputTests: XCTestCase {
    private var dir = ""
    override func setUp() { dir = temporaryDirectory() }
    override func tearDown() { removeDirectory(dir) }

    func testNchwArrayIsTransposedAndGrayscaleFitsOneChannel() throws {
        // [N=2, C=3, H=2, W=2] with value = 1000n + 100c + 10h + w.
        var values: [Float] = []
        for n in 0..<2 { for c in 0..<3 { for h in 0..<2 { for w in 0..<2 { values.append(Float(1000 * n + 100 * c + 10 * h + w)) } } } }
        try NumpyFile.write(values: values, shape: [2, 3, 2, 2], to: dir + "/x.npy")
        let t = try PredictionInput.load(path: dir + "/x.npy", layout: .nchw, modelInputShape: [2, 2, 3])
        XCTAssertEqual(t.shape, [2, 2, 2, 3])
        // Element [n, h, w, c] of NHWC.
        XCTAssertEqual(t.data[((1 * 2 + 1) * 2 + 0) * 3 + 2], 1210)
        XCTAssertEqual(t.data[((0 * 2 + 0) * 2 + 1) * 3 + 1], 101)
        let wrong = errorMessage { _ = try PredictionInput.load(path: self.dir + "/x.npy", modelInputShape: [2, 2, 3]) }
        XCTAssertTrue(wrong.contains("array shape [2, 3, 2, 2] (layout nhwc) gives samples of shape [3, 2, 2], but the model takes input [2, 2, 3]; the array looks channels-first"), wrong)
        // MedMNIST-style grayscale [N, H, W] uint8 fits a model taking [H, W, 1], values unscaled.
        let gray = ZipBuilder.npz([("train_images", craftNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2), }", data: [0, 1, 128, 255, 7, 8, 9, 10]))])
        writeBytes(gray.bytes(), to: dir + "/g.npz")
        for layout in [ImageLayout.nchw, .nhwc] {
            let g = try PredictionInput.load(path: dir + "/g.npz", layout: layout, modelInputShape: [2, 2, 1])
            XCTAssertEqual(g.shape, [2, 2, 2, 1])
            XCTAssertEqual(g.data, [0, 1, 128, 255, 7, 8, 9, 10])
        }
        XCTAssertTrue(errorMessage { _ = try PredictionInput.load(path: self.dir + "/g.npz", key: "x", modelInputShape: [2, 2, 1]) }.contains("no array 'x'"))
    }

    func testTensorFileRowsKeepFileOrderAndAreTransposed() throws {
        // Labelled and unlabelled rows interleaved in the file: predict keeps the file's order.
        let header = #"{"shape":[3,2,1,2],"layout":"NCHW","dtype":"float32","classes":2}"#
        writeBytes(craftTensorFile(header: header, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], labels: [1, -1, 0]), to: dir + "/a.ctf")
        let t = try PredictionInput.load(path: dir + "/a.ctf", modelInputShape: [1, 2, 2])
        XCTAssertEqual(t.shape, [3, 1, 2, 2])
        XCTAssertEqual(t.data, [1, 3, 2, 4, 5, 7, 6, 8, 9, 11, 10, 12])
        XCTAssertTrue(errorMessage { _ = try PredictionInput.load(path: self.dir + "/a.ctf", layout: .nhwc, modelInputShape: [1, 2, 2]) }.contains("stores images as NCHW"))
        let rows = try TensorFile.readRows(path: dir + "/a.ctf")
        XCTAssertEqual(rows.labels, [1, -1, 0])
    }

    func testCsvLabelColumnIsOptional() throws {
        try "a,target,b\n1,0,2\n3,,4\n5,1,6\n".write(toFile: dir + "/l.csv", atomically: true, encoding: .utf8)
        try "a,b\n1,2\n3,4\n".write(toFile: dir + "/n.csv", atomically: true, encoding: .utf8)
        XCTAssertEqual(try PredictionInput.load(path: dir + "/l.csv", modelInputShape: [2]).data, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try PredictionInput.load(path: dir + "/n.csv", modelInputShape: [2]).data, [1, 2, 3, 4])
        XCTAssertTrue(errorMessage { _ = try PredictionInput.load(path: self.dir + "/n.csv", labelRequired: true, modelInputShape: [2]) }.contains("no column 'target'"))
        XCTAssertTrue(errorMessage { _ = try PredictionInput.load(path: self.dir + "/n.csv", modelInputShape: [3]) }.contains("2 feature columns, but the model takes 3"))
        try "a,b\n1,x\n".write(toFile: dir + "/x.csv", atomically: true, encoding: .utf8)
        XCTAssertTrue(errorMessage { _ = try PredictionInput.load(path: self.dir + "/x.csv", modelInputShape: [2]) }.contains("x.csv:2: column 'b' holds 'x'"))
    }

    func testNonFiniteAndOtherFilesAreRefused() throws {
        try NumpyFile.write(values: [1, 2, .nan, 4], shape: [2, 2], to: dir + "/n.npy")
        XCTAssertTrue(errorMessage { _ = try PredictionInput.load(path: self.dir + "/n.npy", modelInputShape: [2]) }.contains("sample 1, value 0 is nan"))
        XCTAssertTrue(errorMessage { _ = try PredictionInput.load(path: self.dir + "/n.txt", modelInputShape: [2]) }.contains("unknown data file extension"))
        XCTAssertTrue(errorMessage { _ = try PredictionInput.load(path: self.dir + "/n.npy", key: "a", modelInputShape: [2]) }.contains("a .npy file holds one"))
        try NumpyFile.write(values: [1], shape: [], to: dir + "/s.npy")
        XCTAssertTrue(errorMessage { _ = try PredictionInput.load(path: self.dir + "/s.npy", modelInputShape: [1]) }.contains("0-d array"))
    }

    func testBatchedLogitsEqualOneForwardPassAndWriteBothFormats() throws {
        let spec = try ModelSpec.decode(json: Data(#"{"inputShape":[3],"layers":[{"kind":"dense","name":"fc","units":5},{"kind":"relu","name":"a"},{"kind":"dense","name":"head","units":2}]}"#.utf8))
        let model = try Sequential(spec: spec, seed: 9)
        var rng = SeededRandom(seed: 1)
        let x = Tensor(shape: [11, 3], data: (0..<33).map { _ in rng.normal() })
        var reports: [Int] = []
        let logits = BatchPrediction.logits(model, inputs: x, batchSize: 4) { done, total in XCTAssertEqual(total, 11); reports.append(done) }
        XCTAssertEqual(reports, [4, 8, 11])
        XCTAssertEqual(logits.shape, [11, 2])
        let whole = model.forward(x, mode: .evaluation)
        for (a, b) in zip(logits.data, whole.data) { XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(b))) }
        try LogitsFile.write(logits, to: dir + "/y.npy")
        XCTAssertEqual(try NumpyFile.read(path: dir + "/y.npy").values.map(\.bitPattern), logits.data.map(\.bitPattern))
        try LogitsFile.write(logits, to: dir + "/y.csv")
        let lines = try String(contentsOfFile: dir + "/y.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "logit_0,logit_1")
        XCTAssertEqual(lines.dropFirst().flatMap { $0.split(separator: ",").map { Float(String($0))!.bitPattern } }, logits.data.map(\.bitPattern))
        XCTAssertEqual(BatchPrediction.logits(model, inputs: Tensor(shape: [0, 3]), batchSize: 4).shape, [0, 2])
        XCTAssertTrue(errorMessage { try LogitsFile.write(logits, to: self.dir + "/y.json") }.contains("unknown output extension"))
    }
}
