import XCTest
import CohortNN
import CohortTensor

/// Every layer's backward pass against central finite differences (bound in GradientCheck).
final class LayerGradientTests: XCTestCase {
    /// Values kept away from 0 so the ReLU kink is never crossed by the finite-difference step.
    private func awayFromZero(_ rng: inout SeededRandom) -> Float {
        let v = rng.normal()
        return v >= 0 ? v + 0.1 : v - 0.1
    }

    func testDense() throws {
        try GradientCheck.checkLayer(LayerSpec(.dense, name: "fc", units: 4), shape: [5])
        try GradientCheck.checkLayer(LayerSpec(.dense, name: "fc_nobias", units: 3, bias: false), shape: [6])
    }

    func testConv2DWithPaddingAndStride() throws {
        try GradientCheck.checkLayer(LayerSpec(.conv2d, name: "conv", units: 3, kernel: 3, padding: 1), shape: [5, 5, 2], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.conv2d, name: "conv_s2", units: 2, kernel: 3, stride: 2), shape: [7, 6, 3], batch: 2)
    }

    func testPooling() throws {
        try GradientCheck.checkLayer(LayerSpec(.maxpool2d, name: "max", kernel: 2), shape: [4, 6, 3], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.maxpool2d, name: "max_overlap", kernel: 3, stride: 2, padding: 1), shape: [5, 5, 2], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.avgpool2d, name: "avg", kernel: 2), shape: [4, 4, 3], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.globalavgpool, name: "gap"), shape: [3, 4, 5], batch: 2)
    }

    func testBatchNormTrainingAndEvaluation() throws {
        try GradientCheck.checkLayer(LayerSpec(.batchnorm1d, name: "bn1"), shape: [4], batch: 6)
        try GradientCheck.checkLayer(LayerSpec(.batchnorm2d, name: "bn2"), shape: [3, 3, 2], batch: 3)
        try GradientCheck.checkLayer(LayerSpec(.batchnorm1d, name: "bn_eval"), shape: [4], batch: 5, mode: .evaluation)
    }

    func testActivations() throws {
        try GradientCheck.checkLayer(LayerSpec(.relu, name: "relu"), shape: [7], inputs: awayFromZero)
        try GradientCheck.checkLayer(LayerSpec(.leakyrelu, name: "lrelu", slope: 0.2), shape: [7], inputs: awayFromZero)
        try GradientCheck.checkLayer(LayerSpec(.gelu, name: "gelu"), shape: [7])
    }

    func testDropoutFlattenReversal() throws {
        try GradientCheck.checkLayer(LayerSpec(.dropout, name: "drop", rate: 0.3), shape: [10])
        try GradientCheck.checkLayer(LayerSpec(.flatten, name: "flat"), shape: [2, 3, 4])
        // Reversal is deliberately not the gradient of its (identity) forward, except at λ = −1.
        try GradientCheck.checkLayer(LayerSpec(.gradientreversal, name: "grl", lambda: -1), shape: [4])
    }

    func testGradientReversalNegatesGradient() throws {
        var rng = SeededRandom(seed: 1)
        let layer = try LayerFactory.make(LayerSpec(.gradientreversal, name: "grl", lambda: 0.5), inputShape: [3], rng: &rng)
        let x = Tensor(shape: [1, 3], data: [1, -2, 3])
        XCTAssertEqual(layer.forward(x, mode: .training), x)
        XCTAssertEqual(layer.backward(Tensor(shape: [1, 3], data: [2, 4, -6]), needsInputGradient: true)?.data, [-1, -2, 3])
    }

    func testFlattenUsesPyTorchChannelMajorOrder() throws {
        var rng = SeededRandom(seed: 1)
        let flat = try LayerFactory.make(LayerSpec(.flatten, name: "f"), inputShape: [2, 2, 2], rng: &rng)
        // NHWC [1, 2, 2, 2]: value = 10·channel + position.
        let x = Tensor(shape: [1, 2, 2, 2], data: [0, 10, 1, 11, 2, 12, 3, 13])
        XCTAssertEqual(flat.forward(x, mode: .evaluation).data, [0, 1, 2, 3, 10, 11, 12, 13])
    }

    func testWholeModelGradient() throws {
        let spec = ModelSpec(inputShape: [6, 6, 1], layers: [
            // No conv bias: before a training-mode BatchNorm its true gradient is exactly 0.
            LayerSpec(.conv2d, name: "features.0", units: 3, kernel: 3, padding: 1, bias: false),
            LayerSpec(.batchnorm2d, name: "features.1"),
            LayerSpec(.gelu, name: "features.2"),
            LayerSpec(.avgpool2d, name: "features.3", kernel: 2),
            LayerSpec(.flatten, name: "flatten"),
            LayerSpec(.dense, name: "head", units: 3),
        ])
        let model = try Sequential(spec: spec, seed: 3)
        var rng = SeededRandom(seed: 4)
        let x = Tensor(shape: [4, 6, 6, 1], data: (0..<144).map { _ in rng.normal() })
        GradientCheck.check(name: "model", x: x, parameters: model.parameters,
                            forward: { model.forward($0, mode: .training) },
                            backward: { model.backward($0, needsInputGradient: true) })
    }
}
