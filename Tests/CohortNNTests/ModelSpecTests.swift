import XCTest
import CohortNN
import CohortTensor
import Foundation

final class ModelSpecTests: XCTestCase {
    private let cnn = ModelSpec(inputShape: [8, 8, 1], layers: [
        LayerSpec(.conv2d, name: "features.0", units: 4, kernel: 3, padding: 1),
        LayerSpec(.batchnorm2d, name: "features.1"), LayerSpec(.relu, name: "features.2"),
        LayerSpec(.maxpool2d, name: "features.3", kernel: 2), LayerSpec(.dropout, name: "features.4", rate: 0.2),
        LayerSpec(.flatten, name: "flatten"), LayerSpec(.dense, name: "head", units: 3),
    ])

    func testJSONRoundTripRebuildsTheSameModel() throws {
        let decoded = try ModelSpec.decode(json: cnn.encodedJSON())
        XCTAssertEqual(decoded, cnn)
        let a = try Sequential(spec: cnn, seed: 4), b = try Sequential(spec: decoded, seed: 4)
        XCTAssertEqual(a.stateDict().map(\.name), [
            "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
            "features.1.running_mean", "features.1.running_var", "head.weight", "head.bias"])
        XCTAssertEqual(a.stateDict().map(\.value), b.stateDict().map(\.value), "same seed, same weights")
        XCTAssertEqual(a.layer(named: "head")!.parameters[0].value.shape, [3, 64])
        XCTAssertEqual(a.spec, cnn)
    }

    func testErrorsNameTheLayerAndProblem() {
        func message(_ spec: ModelSpec) -> String {
            do { _ = try Sequential(spec: spec, seed: 0); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(ModelSpec(inputShape: [4], layers: [LayerSpec(.dense, name: "fc")])),
                       "layer 'fc' (dense): missing field 'units'")
        XCTAssertEqual(message(ModelSpec(inputShape: [4], layers: [LayerSpec(.dense, name: "fc", units: 2, inputs: 5)])),
                       "layer 'fc' (dense): declares 5 inputs but the previous layer gives 4")
        XCTAssertEqual(message(ModelSpec(inputShape: [4], layers: [LayerSpec(.relu, name: "a"), LayerSpec(.relu, name: "a")])),
                       "layer 'a' (relu): name is used twice")
        XCTAssertEqual(message(ModelSpec(inputShape: [4], layers: [LayerSpec(.conv2d, name: "c", units: 2)])),
                       "layer 'c' (conv2d): needs [height, width, channels] input, gets [4]")
        XCTAssertEqual(message(ModelSpec(inputShape: [2, 2, 1], layers: [LayerSpec(.conv2d, name: "c", units: 2, kernel: 5)])),
                       "layer 'c' (conv2d): kernel 5 does not fit input 2×2 with padding 0")
        XCTAssertThrowsError(try ModelSpec.decode(json: Data(#"{"inputShape":[4],"layers":[{"kind":"transformer","name":"t"}]}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("transformer"), "\($0)")
        }
        XCTAssertThrowsError(try ModelSpec.decode(json: Data(#"{"inputShape":[4]}"#.utf8))) {
            XCTAssertEqual("\($0)", "model description: missing 'layers' at top level")
        }
    }

    func testLoadStateRejectsMismatchesAndChangesNothing() throws {
        let model = try Sequential(spec: cnn, seed: 1)
        let before = model.stateDict()
        var state = Dictionary(uniqueKeysWithValues: before.map { ($0.name, $0.value) })
        state["head.weight"] = Tensor(shape: [3, 63])
        state["features.0.bias"] = Tensor(shape: [4], data: [0, .nan, 0, 0])
        state["extra"] = Tensor(shape: [1])
        state.removeValue(forKey: "head.bias")
        XCTAssertThrowsError(try model.load(state)) { error in
            let text = "\(error)"
            for part in ["'head.weight': shape [3, 63], model has [3, 64]", "missing 'head.bias'", "unexpected 'extra'", "'features.0.bias': contains NaN"] {
                XCTAssertTrue(text.contains(part), "\(part) not in \(text)")
            }
        }
        XCTAssertEqual(model.stateDict().map(\.value), before.map(\.value))
    }

    func testDropoutStatistics() throws {
        var rng = SeededRandom(seed: 1)
        let drop = try LayerFactory.make(LayerSpec(.dropout, name: "d", rate: 0.3), inputShape: [10_000], rng: &rng)
        let x = Tensor(shape: [1, 10_000], repeating: 1)
        let y = drop.forward(x, mode: .training)
        let zeros = Float(y.data.filter { $0 == 0 }.count) / 10_000
        XCTAssertEqual(zeros, 0.3, accuracy: 0.02, "binomial sd is 0.0046")
        XCTAssertEqual(y.mean(), 1, accuracy: 0.03, "inverted dropout keeps the mean")
        XCTAssertEqual(drop.forward(x, mode: .evaluation), x)
    }

    func testSeededRandomIsReproducibleAndNormal() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        XCTAssertEqual((0..<10).map { _ in a.next() }, (0..<10).map { _ in b.next() })
        var r = SeededRandom(seed: 7)
        let xs = (0..<100_000).map { _ in Double(r.normal()) }
        let mean = xs.reduce(0, +) / 1e5
        let sd = (xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1e5).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.01, "standard error 0.003")
        XCTAssertEqual(sd, 1, accuracy: 0.01)
        XCTAssertEqual(r.permutation(50).sorted(), Array(0..<50))
        var s1 = SeededRandom(seed: 1).derived(stream: 1), s2 = SeededRandom(seed: 1).derived(stream: 2)
        XCTAssertNotEqual(s1.next(), s2.next(), "streams differ")
    }
}
