import XCTest
import CohortNN
import CohortTensor
import Foundation

/// Graph models (model description version 2): wiring, gradients through adds and concats,
/// checks before allocation, cuts and head replacement by name.
final class GraphModelTests: XCTestCase {
    /// input[6] → fc1 → relu → fc2 (6) ⊕ input → concat with fc3(input) → head.
    private let residual = ModelSpec(inputShape: [6], layers: [
        LayerSpec(.dense, name: "fc1", units: 5),
        LayerSpec(.gelu, name: "act"),
        LayerSpec(.dense, name: "fc2", units: 6),
        LayerSpec(.add, name: "res", sources: ["fc2", "input"]),
        LayerSpec(.dense, name: "fc3", units: 3, sources: ["input"]),
        LayerSpec(.concat, name: "cat", sources: ["res", "fc3"]),
        LayerSpec(.dense, name: "head", units: 4),
    ])

    private func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    func testWholeGraphGradientMatchesFiniteDifferences() throws {
        let model = try Sequential(spec: residual, seed: 3)
        var rng = SeededRandom(seed: 8)
        let x = Tensor(shape: [3, 6], data: (0..<18).map { _ in rng.normal() })
        GradientCheck.check(name: "residual graph", x: x, parameters: model.parameters,
                            forward: { model.forward($0, mode: .training) },
                            backward: { model.backward($0, needsInputGradient: true) })
        XCTAssertEqual(model.outputShape, [4])
        XCTAssertEqual(try model.shape(after: 6), [9], "concat of 6 and 3 features")
    }

    func testVersion2JSONRoundTripAndNodeOrderIsFree() throws {
        let json = residual.encodedJSON()
        let text = String(decoding: json, as: UTF8.self)
        XCTAssertTrue(text.contains("\"version\" : 2"), text)
        XCTAssertTrue(text.contains("\"inputs\" : [\n        \"fc2\",\n        \"input\""), text)
        let decoded = try ModelSpec.decode(json: json)
        XCTAssertEqual(decoded, residual)
        // The same graph with its nodes listed in another order builds the same model.
        var shuffled = residual
        shuffled.layers = [residual.layers[4], residual.layers[0], residual.layers[1], residual.layers[2],
                           residual.layers[3], residual.layers[5], residual.layers[6]]
        shuffled.layers[1].sources = ["input"]
        shuffled.layers[2].sources = ["fc1"]
        shuffled.layers[3].sources = ["act"]
        shuffled.layers[6].sources = ["cat"]
        let a = try Sequential(spec: residual, seed: 2), b = try Sequential(spec: shuffled, seed: 2)
        XCTAssertEqual(b.layers.map(\.name), ["fc3", "fc1", "act", "fc2", "res", "cat", "head"], "file order kept where inputs allow")
        let x = Tensor(shape: [2, 6], data: (0..<12).map { Float($0) / 7 - 0.8 })
        XCTAssertEqual(a.forward(x, mode: .evaluation), b.forward(x, mode: .evaluation))
        // A version 1 file still loads, and version 1 refuses graph nodes.
        let v1 = Data(#"{"inputShape":[4],"layers":[{"kind":"dense","name":"fc","units":2,"inputs":4}]}"#.utf8)
        XCTAssertEqual(try ModelSpec.decode(json: v1).version, 1)
        let bad = Data(#"{"version":1,"inputShape":[4],"layers":[{"kind":"relu","name":"a"},{"kind":"add","name":"b","inputs":["a","input"]}]}"#.utf8)
        XCTAssertTrue(message { _ = try ModelSpec.decode(json: bad) }.contains("version 1 has no 'add' nodes"))
    }

    func testWiringErrorsNameTheNode() {
        func build(_ layers: [LayerSpec], input: [Int] = [4]) -> String {
            message { _ = try Sequential(spec: ModelSpec(inputShape: input, layers: layers), seed: 0) }
        }
        XCTAssertEqual(build([LayerSpec(.relu, name: "a", sources: ["ghost"])]), "layer 'a' (relu): reads 'ghost', which no node defines")
        XCTAssertTrue(build([LayerSpec(.relu, name: "a", sources: ["b"]), LayerSpec(.relu, name: "b", sources: ["a"])])
            .contains("the graph has a cycle through 'a', 'b'"))
        XCTAssertEqual(build([LayerSpec(.relu, name: "input")]), "layer 'input' (relu): 'input' is reserved for the model input")
        XCTAssertEqual(build([LayerSpec(.relu, name: "a"), LayerSpec(.relu, name: "b", sources: ["input"])]),
                       "layer 'a' (relu): no node reads its output (only the last node is the model's output)")
        XCTAssertEqual(build([LayerSpec(.dense, name: "a", units: 3), LayerSpec(.add, name: "s", sources: ["a", "input"])]),
                       "layer 's' (add): inputs must have the same shape to add, got [[3], [4]]")
        XCTAssertEqual(build([LayerSpec(.add, name: "s", sources: ["input"])]), "layer 's' (add): needs at least 2 inputs, gets 1")
        XCTAssertEqual(build([LayerSpec(.concat, name: "c", sources: ["input", "input"], axis: 2)]),
                       "layer 'c' (concat): 'axis' 2 is outside a per-sample rank of 1")
        XCTAssertEqual(build([LayerSpec(.relu, name: "bad\nname")]), "layer 0 (relu): the name must be 1...256 bytes without control characters")
    }

    /// Each of these once ended the process (SIGILL, SIGABRT, SIGSEGV); now each is one line.
    func testHostileDescriptionsAreErrorsNotCrashes() {
        func decodeAndBuild(_ json: String) -> String {
            message { _ = try Sequential(spec: try ModelSpec.decode(json: Data(json.utf8)), seed: 0) }
        }
        XCTAssertEqual(decodeAndBuild(#"{"inputShape":[8,8,1],"layers":[{"kind":"conv2d","name":"c","units":2,"stride":0}]}"#),
                       "layer 'c' (conv2d): 'stride' must be in 1...65536, got 0")
        XCTAssertEqual(decodeAndBuild(#"{"inputShape":[8,8,1],"layers":[{"kind":"conv2d","name":"c","units":2,"kernel":0}]}"#),
                       "layer 'c' (conv2d): 'kernel' must be ≥ 1, got 0")
        XCTAssertEqual(decodeAndBuild(#"{"inputShape":[8,8,3],"layers":[{"kind":"conv2d","name":"c","units":4,"groups":2}]}"#),
                       "layer 'c' (conv2d): 'groups' 2 must divide the input channels 3 and the output channels 4")
        let huge = decodeAndBuild(#"{"inputShape":[16],"layers":[{"kind":"dense","name":"fc","units":1e12}]}"#)
        XCTAssertEqual(huge, "layer 'fc' (dense): 'units' 1000000000000 is larger than the budget of 268435456 values per sample")
        let wideDense = decodeAndBuild(#"{"inputShape":[100000],"layers":[{"kind":"dense","name":"fc","units":1e8}]}"#)
        XCTAssertTrue(wideDense.hasPrefix("layer 'fc' (dense): needs 10000100000000 parameters, more than the budget of"), wideDense)
        XCTAssertTrue(decodeAndBuild(#"{"inputShape":[4611686018427387904],"layers":[{"kind":"relu","name":"r"}]}"#)
            .hasPrefix("model description: inputShape must be non-empty, positive and at most"))
        XCTAssertTrue(decodeAndBuild(#"{"inputShape":[65536,65536,65536],"layers":[{"kind":"relu","name":"r"}]}"#)
            .hasPrefix("model description: inputShape must be"))
        XCTAssertEqual(decodeAndBuild(#"{"inputShape":[8],"layers":[{"kind":"reshape","name":"r","shape":[3,-1]}]}"#),
                       "layer 'r' (reshape): cannot reshape [8] (8 values) to [3, -1]")
        XCTAssertEqual(decodeAndBuild(#"{"inputShape":[8,8,1],"layers":[{"kind":"maxpool2d","name":"p","kernel":2,"padding":2}]}"#),
                       "layer 'p' (maxpool2d): padding must be at most half the window 2 (a window of padding alone has no value)")
        // Many modest layers add up past the budget before anything is allocated.
        let budget = ModelBudget(maxParameters: 1000, maxValuesPerSample: 1 << 20)
        let wide = ModelSpec(inputShape: [10], layers: (0..<20).map { LayerSpec(.dense, name: "fc\($0)", units: 10) })
        XCTAssertEqual(message { _ = try Sequential(spec: wide, seed: 0, budget: budget) },
                       "model description: more than 1000 parameters (at node 'fc9')")
    }

    func testCutAndHeadReplacementByName() throws {
        let model = try Sequential(spec: residual, seed: 1)
        XCTAssertTrue(message { _ = try model.split(after: "fc2") }.contains("node 'res' also reads the input"))
        let (backbone, head) = try model.split(after: "cat")
        let x = Tensor(shape: [2, 6], data: (0..<12).map { Float($0) / 5 - 1 })
        XCTAssertEqual(head.forward(backbone.forward(x, mode: .evaluation), mode: .evaluation), model.forward(x, mode: .evaluation))
        let before = model.stateDict().filter { !$0.name.hasPrefix("head.") }
        try model.replaceHead(from: "head", with: [LayerSpec(.dense, name: "head2", units: 7)], seed: 9)
        XCTAssertEqual(model.outputShape, [7])
        XCTAssertEqual(model.stateDict().filter { !$0.name.hasPrefix("head2.") }.map(\.value), before.map(\.value))
        XCTAssertTrue(message { try model.replaceHead(from: "nope", with: [], seed: 0) }.hasPrefix("no node named 'nope'"))
    }

    func testFrozenPrefixGivesTheSameGradientsAsAFullBackward() throws {
        let a = try Sequential(spec: residual, seed: 4), b = try Sequential(spec: residual, seed: 4)
        a.setTrainable(false, prefix: "fc1")
        let x = Tensor(shape: [3, 6], data: (0..<18).map { Float($0 % 5) / 3 - 0.5 })
        let dy = Tensor(shape: [3, 4], data: (0..<12).map { Float($0) / 11 - 0.5 })
        a.zeroGrad(); b.zeroGrad()
        _ = a.forward(x, mode: .training); a.backward(dy)
        _ = b.forward(x, mode: .training); b.backward(dy, needsInputGradient: true)
        for (pa, pb) in zip(a.parameters, b.parameters) where pa.isTrainable {
            XCTAssertEqual(pa.grad, pb.grad, pa.name)
        }
        XCTAssertTrue(a.parameters.first { $0.name == "fc1.weight" }!.grad.data.allSatisfy { $0 == 0 })
        XCTAssertEqual(a.lastBackwardLayerCount, 5, "fc1 is frozen: neither it nor act runs backward")
    }
}
