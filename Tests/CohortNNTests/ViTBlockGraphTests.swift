import XCTest
import CohortNN
import CohortTensor

/// A pre-norm ViT block as a version 2 graph, with timm's parameter names, checked end to end
/// against finite differences.
final class ViTBlockGraphTests: XCTestCase {
    /// tokens [4, 8] → cls_token → pos_embed → x + droppath(attn(norm1(x))) → x + mlp(norm2(x))
    /// → norm → token 0 → head.
    static func blockSpec(layout: String = "timm", dropPath: Float = 0.3) -> ModelSpec {
        ModelSpec(inputShape: [4, 8], layers: [
            LayerSpec(.clstoken, name: "cls_token"),
            LayerSpec(.posembed, name: "pos_embed"),
            LayerSpec(.layernorm, name: "blocks.0.norm1", epsilon: 1e-6),
            LayerSpec(.attention, name: "blocks.0.attn", heads: 2, layout: layout),
            LayerSpec(.droppath, name: "blocks.0.drop_path1", rate: dropPath),
            LayerSpec(.add, name: "blocks.0.add1", sources: ["blocks.0.drop_path1", "pos_embed"]),
            LayerSpec(.layernorm, name: "blocks.0.norm2", epsilon: 1e-6),
            LayerSpec(.linear, name: "blocks.0.mlp.fc1", units: 16),
            LayerSpec(.gelu, name: "blocks.0.mlp.act"),
            LayerSpec(.linear, name: "blocks.0.mlp.fc2", units: 8),
            LayerSpec(.add, name: "blocks.0.add2", sources: ["blocks.0.mlp.fc2", "blocks.0.add1"]),
            LayerSpec(.layernorm, name: "norm", epsilon: 1e-6),
            LayerSpec(.selecttoken, name: "pre_logits"),
            LayerSpec(.linear, name: "head", units: 3),
        ])
    }

    func testParameterNamesAreTimms() throws {
        let model = try Sequential(spec: Self.blockSpec(), seed: 1)
        XCTAssertEqual(model.parameters.map(\.name), [
            "cls_token", "pos_embed", "blocks.0.norm1.weight", "blocks.0.norm1.bias",
            "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias",
            "blocks.0.norm2.weight", "blocks.0.norm2.bias", "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias",
            "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias", "norm.weight", "norm.bias", "head.weight", "head.bias",
        ])
        XCTAssertEqual(model.parameters.first { $0.name == "pos_embed" }?.value.shape, [1, 5, 8])
        XCTAssertEqual(model.outputShape, [3])
        XCTAssertEqual(model.parameters.filter(\.isNormalization).map(\.name),
                       ["blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias",
                        "norm.weight", "norm.bias"])
        // The description survives a JSON round trip and rebuilds the same model.
        let json = try JSONEncoder().encode(model.spec)
        let rebuilt = try Sequential(spec: ModelSpec.decode(json: json), seed: 1)
        XCTAssertEqual(rebuilt.stateDict().map(\.name), model.stateDict().map(\.name))
    }

    private func checkWholeModel(layout: String) throws {
        let model = try Sequential(spec: Self.blockSpec(layout: layout, dropPath: 0.5), seed: 3)
        var rng = SeededRandom(seed: 21)
        // Norm weights away from 1 and non-zero biases, so their gradients are exercised.
        for p in model.parameters { p.value = Tensor(shape: p.value.shape, data: (0..<p.value.count).map { _ in rng.normal() * 0.5 }) }
        let path = try XCTUnwrap(model.layer(named: "blocks.0.drop_path1") as? DropPath)
        path.reusesMask = true
        let x = Tensor(shape: [4, 4, 8], data: (0..<128).map { _ in rng.normal() })
        _ = model.forward(x, mode: .training)
        // Meaningful only if the residual branch is dropped for some samples and kept for others.
        XCTAssertTrue(path.lastMask.contains(0) && path.lastMask.contains { $0 > 1 }, "mask \(path.lastMask)")
        GradientCheck.check(name: "vit-block-\(layout)", x: x, parameters: model.parameters,
                            forward: { model.forward($0, mode: .training) },
                            backward: { model.backward($0, needsInputGradient: true) })
    }

    func testWholeModelGradientTimmLayout() throws { try checkWholeModel(layout: "timm") }
    func testWholeModelGradientTorchLayout() throws { try checkWholeModel(layout: "torch") }

    func testEvaluationIgnoresDropPath() throws {
        let model = try Sequential(spec: Self.blockSpec(dropPath: 0.5), seed: 3)
        let plain = try Sequential(spec: Self.blockSpec(dropPath: 0), seed: 3)
        var rng = SeededRandom(seed: 2)
        let x = Tensor(shape: [3, 4, 8], data: (0..<96).map { _ in rng.normal() })
        XCTAssertEqual(model.forward(x, mode: .evaluation), plain.forward(x, mode: .evaluation))
    }
}
