import XCTest
import CohortNN
import CohortTensor

/// LoRA: factor gradients against finite differences, a frozen base, merging.
final class LoRATests: XCTestCase {
    private func spec(lora: LoRASpec?) -> ModelSpec {
        ModelSpec(inputShape: [6, 6, 2], layers: [
            LayerSpec(.conv2d, name: "conv", units: 3, kernel: 3, padding: 1),
            LayerSpec(.relu, name: "relu"),
            LayerSpec(.flatten, name: "flat"),
            LayerSpec(.dense, name: "fc", units: 5),
            LayerSpec(.gelu, name: "act"),
            LayerSpec(.dense, name: "head", units: 3),
        ], lora: lora)
    }

    func testPatterns() {
        XCTAssertTrue(LoRASpec.matches("layer1.0.conv1", pattern: "layer*.conv*"))
        XCTAssertTrue(LoRASpec.matches("blocks.11.attn", pattern: "blocks.*.attn"))
        XCTAssertFalse(LoRASpec.matches("blocks.11.attn.x", pattern: "blocks.*.attn"))
        XCTAssertTrue(LoRASpec.matches("fc", pattern: "*"))
        XCTAssertFalse(LoRASpec.matches("head", pattern: "fc"))
        XCTAssertEqual(LoRASpec.factorNames(for: "blocks.0.attn.in_proj_weight").a, "blocks.0.attn.in_proj.lora_A")
        XCTAssertEqual(LoRASpec.factorNames(for: "fc.weight").b, "fc.lora_B")
    }

    func testFactorGradientsMatchFiniteDifferences() throws {
        let model = try Sequential(spec: spec(lora: LoRASpec(rank: 2, alpha: 3, targets: ["conv", "fc"])), seed: 1)
        // B starts at zero; move it so both factors' gradients are non-trivial.
        var rng = SeededRandom(seed: 4)
        for p in model.parameters where p.name.hasSuffix("lora_B") { p.value = Tensor(shape: p.value.shape, data: (0..<p.value.count).map { _ in rng.normal() * 0.3 }) }
        for p in model.parameters where !p.isAdapter { p.isTrainable = false }
        let adapters = model.parameters.filter(\.isAdapter)
        XCTAssertEqual(adapters.map(\.name), ["conv.lora_A", "conv.lora_B", "fc.lora_A", "fc.lora_B"])
        XCTAssertEqual(adapters.map(\.value.shape), [[2, 2, 3, 3], [3, 2], [2, 108], [5, 2]])
        XCTAssertEqual(model.trainableParameters.map(\.name), adapters.map(\.name), "bases are never updated")
        let x = Tensor(shape: [2, 6, 6, 2], data: (0..<144).map { _ in rng.normal() })
        GradientCheck.check(name: "lora", x: x, parameters: adapters,
                            forward: { model.forward($0, mode: .training) },
                            backward: { model.backward($0, needsInputGradient: true) })
        for p in model.parameters where p.isLoRABase { XCTAssertTrue(p.grad.data.allSatisfy { $0 == 0 }, "\(p.name) gradient folded and cleared") }
    }

    func testStartsAsTheBaseTrainsOnlyFactorsAndMerges() throws {
        let plain = try Sequential(spec: spec(lora: nil), seed: 7)
        let model = try Sequential(spec: spec(lora: LoRASpec(rank: 2, targets: ["conv", "fc"])), seed: 7)
        try model.load(Dictionary(uniqueKeysWithValues: plain.stateDict().map { ($0.name, $0.value) }), strict: false)
        var rng = SeededRandom(seed: 2)
        let x = Tensor(shape: [4, 6, 6, 2], data: (0..<288).map { _ in rng.normal() })
        XCTAssertEqual(model.forward(x, mode: .evaluation), plain.forward(x, mode: .evaluation), "B = 0: the base model")
        let before = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.value) })
        for p in model.parameters { p.isTrainable = p.isAdapter || p.name.hasPrefix("head.") }
        let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.1)], momentum: 0.9)
        for _ in 0..<5 {
            optimizer.zeroGrad()
            let loss = Loss.softmaxCrossEntropy(logits: model.forward(x, mode: .training), labels: [0, 1, 2, 1])
            model.backward(loss.gradient)
            optimizer.step()
        }
        let after = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.value) })
        for (name, value) in before {
            let moved = after[name] != value
            XCTAssertEqual(moved, name.contains("lora_") || name.hasPrefix("head."), name)
        }
        let trained = model.forward(x, mode: .evaluation)
        XCTAssertNotEqual(trained, plain.forward(x, mode: .evaluation))
        let (mergedSpec, mergedState) = model.mergedState()
        XCTAssertNil(mergedSpec.lora)
        XCTAssertFalse(mergedState.contains { $0.name.contains("lora_") })
        let merged = try Sequential(spec: mergedSpec, seed: 0)
        try merged.load(Dictionary(uniqueKeysWithValues: mergedState.map { ($0.name, $0.value) }))
        let difference = zip(merged.forward(x, mode: .evaluation).data, trained.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(difference, 1e-5)
        // A copy (spec + state) is the same model.
        XCTAssertEqual(try model.copy().forward(x, mode: .evaluation), trained)
    }

    func testConfigurationErrors() {
        func message(_ lora: LoRASpec) -> String {
            do { _ = try Sequential(spec: spec(lora: lora), seed: 0); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(LoRASpec(rank: 0, targets: ["fc"])), "lora: 'rank' must be in 1...4096, got 0")
        XCTAssertEqual(message(LoRASpec(rank: 2, targets: ["relu"])), "lora: target 'relu' matches no node with a weight matrix")
        XCTAssertEqual(message(LoRASpec(rank: 2, alpha: -1, targets: ["fc"])), "lora: 'alpha' must be a positive number, got -1.0")
    }
}
