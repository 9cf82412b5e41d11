import XCTest
import CohortNN
import CohortTensor

/// Inference-mode projections: `linear`/`dense` and attention with their weights packed once
/// and kept, a following `gelu` or residual `add` fused into the output pass. Each graph's
/// inference output is checked against evaluation mode (which runs every node on its own),
/// including graphs where fusion must not happen, and after weight changes the packed copy
/// must follow.
final class FusedProjectionTests: XCTestCase {
    private func assertClose(_ a: [Float], _ b: [Float], tolerance: Float, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        var worst: Float = 0
        for i in 0..<min(a.count, b.count) {
            let d = abs(a[i] - b[i]) / max(1, abs(b[i]))
            if !(d <= worst) { worst = d.isNaN ? .infinity : d }
        }
        XCTAssertLessThan(worst, tolerance, "\(what): largest relative difference \(worst)", file: file, line: line)
    }

    private func randomize(_ model: Sequential, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for p in model.parameters {
            p.value = Tensor(shape: p.value.shape, data: (0..<p.value.count).map { _ in rng.normal() * 0.3 + (p.isNormalization && p.name.hasSuffix("weight") ? 1 : 0) })
        }
    }

    private func input(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() })
    }

    /// Two pre-norm ViT blocks (attention + add, fc1 + gelu, fc2 + add fused) at sizes where the
    /// projections split over two threads.
    static func blocksSpec(tokens: Int = 16, width: Int = 32) -> ModelSpec {
        var layers = [LayerSpec(.clstoken, name: "cls_token"), LayerSpec(.posembed, name: "pos_embed")]
        var last = "pos_embed"
        for b in 0..<2 {
            let p = "blocks.\(b)"
            layers += [
                LayerSpec(.layernorm, name: "\(p).norm1", epsilon: 1e-6, sources: [last]),
                LayerSpec(.attention, name: "\(p).attn", heads: 2),
                LayerSpec(.add, name: "\(p).add1", sources: [last, "\(p).attn"]),
                LayerSpec(.layernorm, name: "\(p).norm2", epsilon: 1e-6),
                LayerSpec(.linear, name: "\(p).mlp.fc1", units: 4 * width),
                LayerSpec(.gelu, name: "\(p).mlp.act"),
                LayerSpec(.linear, name: "\(p).mlp.fc2", units: width),
                LayerSpec(.add, name: "\(p).add2", sources: ["\(p).add1", "\(p).mlp.fc2"]),
            ]
            last = "\(p).add2"
        }
        layers += [LayerSpec(.layernorm, name: "norm", epsilon: 1e-6), LayerSpec(.selecttoken, name: "pool"),
                   LayerSpec(.linear, name: "head", units: 5)]
        var spec = ModelSpec(inputShape: [tokens, width], layers: layers)
        spec.version = 2
        return spec
    }

    func testViTBlocksInferenceEqualsEvaluation() throws {
        let model = try Sequential(spec: Self.blocksSpec(), seed: 1)
        randomize(model, seed: 2)
        let x = input([8, 16, 32], seed: 3)
        let evaluation = model.forward(x, mode: .evaluation)
        let inference = model.forward(x, mode: .inference)
        XCTAssertEqual(inference.shape, [8, 5])
        assertClose(inference.data, evaluation.data, tolerance: 1e-5, "inference vs evaluation")
        XCTAssertEqual(model.forward(x, mode: .inference).data, inference.data, "inference is repeatable")
        // A single sample (65-row products do not split the same way) gives its row of the batch.
        let one = model.forward(Tensor(shape: [1, 16, 32], data: Array(x.data[0..<(16 * 32)])), mode: .inference)
        assertClose(one.data, Array(inference.data[0..<5]), tolerance: 1e-5, "one sample vs its row of the batch")
    }

    /// Every way of changing a weight must reach the next inference pass (the packed copy is
    /// keyed on the parameter's version), and training between inference passes still works.
    func testPackedWeightsFollowWeightChanges() throws {
        let model = try Sequential(spec: Self.blocksSpec(), seed: 4)
        randomize(model, seed: 5)
        let x = input([4, 16, 32], seed: 6)
        let before = model.forward(x, mode: .inference)
        let changes: [(String, (Parameter) -> Void)] = [
            ("blocks.0.mlp.fc1.weight", { $0.value.data[3] += 0.7 }),
            ("blocks.1.attn.qkv.weight", { p in p.value.data.withUnsafeMutableBufferPointer { $0[100] -= 0.9 } }),
            ("blocks.1.attn.proj.weight", { $0.value = Tensor(shape: $0.value.shape, repeating: 0.01) }),
            ("head.weight", { $0.value.data[0] *= -2 }),
        ]
        var previous = before.data
        for (name, change) in changes {
            let p = try XCTUnwrap(model.parameters.first { $0.name == name }, name)
            change(p)
            let inference = model.forward(x, mode: .inference).data
            XCTAssertNotEqual(inference, previous, "\(name): the change shows in inference")
            assertClose(inference, model.forward(x, mode: .evaluation).data, tolerance: 1e-5, "\(name): inference vs evaluation")
            previous = inference
        }
        // An SGD step through a training pass, then inference again.
        let out = model.forward(x, mode: .training)
        model.backward(Tensor(shape: out.shape, repeating: 0.1))
        let sgd = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.5)], momentum: 0)
        sgd.step()
        let after = model.forward(x, mode: .inference).data
        XCTAssertNotEqual(after, previous, "the SGD step shows in inference")
        assertClose(after, model.forward(x, mode: .evaluation).data, tolerance: 1e-5, "after an SGD step")
    }

    /// Graphs where the node after a projection must not be fused: the projection's output is
    /// also read elsewhere, the add has the projection on both sides, the activation is not
    /// GELU, and a residual from the model input (fused) on a `dense` layer.
    func testFusionOnlyWhereSafe() throws {
        var spec = ModelSpec(inputShape: [6, 24], layers: [
            LayerSpec(.linear, name: "a", units: 24),
            LayerSpec(.add, name: "skip", sources: ["input", "a"]),       // residual from the input: fused
            LayerSpec(.linear, name: "b", units: 48),
            LayerSpec(.gelu, name: "b_act"),                               // fused
            LayerSpec(.linear, name: "c", units: 48, sources: ["b_act"]),
            LayerSpec(.gelu, name: "c_act"),
            LayerSpec(.add, name: "c_also", sources: ["c", "c_act"]),      // c read twice: not fused
            LayerSpec(.linear, name: "d", units: 48),
            LayerSpec(.add, name: "twice", sources: ["d", "d"]),           // d on both sides: not fused
            LayerSpec(.linear, name: "e", units: 48),
            LayerSpec(.relu, name: "e_act"),                               // not GELU: not fused
            LayerSpec(.flatten, name: "flat"),
            LayerSpec(.dense, name: "f", units: 10),
        ])
        spec.version = 2
        // PyTorch's default initialisation (±1/√inputs) keeps values near unit size through
        // the chain; with larger weights the last-bit difference of a fused residual sum grows
        // with the activations and cancels into outputs near zero.
        let model = try Sequential(spec: spec, seed: 7)
        let x = input([20, 6, 24], seed: 9)
        let evaluation = model.forward(x, mode: .evaluation)
        let inference = model.forward(x, mode: .inference)
        XCTAssertEqual(inference.shape, [20, 10])
        assertClose(inference.data, evaluation.data, tolerance: 1e-5, "inference vs evaluation")
        // With the switch off, inference runs every node as evaluation does: the same bits.
        InferenceProjection.enabled = false
        defer { InferenceProjection.enabled = true }
        XCTAssertEqual(model.forward(x, mode: .inference).data, evaluation.data, "switched off: evaluation's values")
    }

    /// The ViT-Tiny preset at reduced width through the fused path, against evaluation mode.
    func testViTPresetInferenceEqualsEvaluation() throws {
        var options = PresetOptions(classes: 4, inputShape: [32, 32, 3])
        options.patchSize = 8
        options.embedDim = 48
        options.depth = 2
        options.heads = 3
        let model = try Sequential(spec: ModelPreset.vitTiny.spec(options), seed: 10)
        randomize(model, seed: 11)
        let x = input([6, 32, 32, 3], seed: 12)
        assertClose(model.forward(x, mode: .inference).data, model.forward(x, mode: .evaluation).data,
                    tolerance: 1e-5, "vit preset: inference vs evaluation")
    }
}
