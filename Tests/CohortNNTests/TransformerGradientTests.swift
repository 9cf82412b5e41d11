import XCTest
import CohortNN
import CohortTensor

/// Finite-difference checks of the version 2 layers: normalisation, token-wise linear,
/// attention (both layouts), ViT token pieces, drop-path and the new activations.
final class TransformerGradientTests: XCTestCase {
    /// Builds `spec` for `shape`, gives every parameter random values (so zero-initialised
    /// biases and unit norm weights do not hide mistakes), and checks all gradients.
    private func check(_ spec: LayerSpec, shape: [Int], batch n: Int = 3,
                       inputs: ((inout SeededRandom) -> Float)? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededRandom(seed: 11)
        let layer = try LayerFactory.make(spec, inputShape: shape, rng: &rng)
        for p in layer.parameters {
            p.value = Tensor(shape: p.value.shape, data: (0..<p.value.count).map { _ in rng.normal() * 0.5 })
        }
        if let d = layer as? DropPath { d.reusesMask = true }
        let count = n * shape.reduce(1, *)
        let x = Tensor(shape: [n] + shape, data: (0..<count).map { _ in inputs?(&rng) ?? rng.normal() })
        XCTAssertEqual(Array(layer.forward(x, mode: .training).shape.dropFirst()),
                       try LayerCheck.check(spec, inputShapes: [shape]).outputShape, "\(spec.name): shape", file: file, line: line)
        GradientCheck.check(name: spec.name, x: x, parameters: layer.parameters,
                            forward: { layer.forward($0, mode: .training) },
                            backward: { layer.backward($0, needsInputGradient: true) }, file: file, line: line)
    }

    func testLayerNormOnTokensAndVectors() throws {
        try check(LayerSpec(.layernorm, name: "norm", epsilon: 1e-6), shape: [4, 5])
        try check(LayerSpec(.layernorm, name: "norm_vec"), shape: [6])
    }

    func testGroupNormWithOneSomeAndPerChannelGroups() throws {
        try check(LayerSpec(.groupnorm, name: "gn1", groups: 1), shape: [3, 2, 4], batch: 2)
        try check(LayerSpec(.groupnorm, name: "gn2", groups: 2), shape: [3, 2, 4], batch: 2)
        try check(LayerSpec(.groupnorm, name: "gnC", groups: 4), shape: [3, 2, 4], batch: 2)
    }

    func testLinearOnTokensAndVectors() throws {
        try check(LayerSpec(.linear, name: "fc", units: 3), shape: [4, 5])
        try check(LayerSpec(.linear, name: "fc_vec", units: 3, bias: false), shape: [5])
    }

    func testAttentionBothLayouts() throws {
        try check(LayerSpec(.attention, name: "attn", heads: 2, layout: "timm"), shape: [5, 4], batch: 2)
        try check(LayerSpec(.attention, name: "attn", heads: 2, layout: "torch"), shape: [5, 4], batch: 2)
        try check(LayerSpec(.attention, name: "attn1", bias: false, heads: 1), shape: [3, 6], batch: 2)
    }

    func testAttentionLargeEnoughToUseBothThreads() throws {
        // 2 samples × 3 heads × 12² × 8 × 2 ≥ the GEMM parallel threshold: the pair loop splits.
        try check(LayerSpec(.attention, name: "attn_big", heads: 3), shape: [12, 24], batch: 2)
    }

    func testTokenPieces() throws {
        try check(LayerSpec(.clstoken, name: "cls_token"), shape: [3, 4])
        try check(LayerSpec(.posembed, name: "pos_embed"), shape: [3, 4])
        try check(LayerSpec(.selecttoken, name: "select"), shape: [3, 4])
        try check(LayerSpec(.selecttoken, name: "select2", index: 2), shape: [3, 4])
    }

    func testDropPathWithAFixedMask() throws {
        var rng = SeededRandom(seed: 1)
        let layer = try LayerFactory.make(LayerSpec(.droppath, name: "dp", rate: 0.5), inputShape: [2, 3], rng: &rng)
        let path = try XCTUnwrap(layer as? DropPath)
        _ = layer.forward(Tensor(shape: [8, 2, 3], repeating: 1), mode: .training)
        // The check below is only meaningful if this batch both drops and keeps samples.
        XCTAssertTrue(path.lastMask.contains(0) && path.lastMask.contains(2), "mask \(path.lastMask)")
        try check(LayerSpec(.droppath, name: "dp", rate: 0.5), shape: [2, 3], batch: 8)
    }

    /// Values at least 0.1 away from every kink (0, ±3, 6) of ReLU6 and hard-swish.
    private func awayFromKinks(_ rng: inout SeededRandom) -> Float {
        var v = rng.normal() * 3
        for kink: Float in [0, -3, 3, 6] where abs(v - kink) < 0.1 { v = kink + (v < kink ? -0.1 : 0.1) }
        return v
    }

    func testActivations() throws {
        for kind: LayerKind in [.relu6, .hardswish] {
            try check(LayerSpec(kind, name: kind.rawValue), shape: [8], inputs: awayFromKinks)
        }
        for kind: LayerKind in [.silu, .sigmoid, .tanh] {
            try check(LayerSpec(kind, name: kind.rawValue), shape: [7])
        }
    }

    func testSoftmaxOverLastAndFirstAxis() throws {
        try check(LayerSpec(.softmax, name: "softmax"), shape: [3, 5])
        try check(LayerSpec(.softmax, name: "softmax0", axis: 0), shape: [3, 5])
        try check(LayerSpec(.softmax, name: "softmax_vec"), shape: [6])
    }
}
