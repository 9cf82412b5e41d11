import Foundation
import XCTest
import CohortNN
import CohortTensor

/// Grouped, depthwise, dilated and asymmetrically padded convolutions, padded pooling and
/// adaptive average pooling: gradients against finite differences, values against naive
/// loops written here, a ResNet basic block as a graph, and hostile fields.
final class GraphConvOpTests: XCTestCase {
    // MARK: - Helpers

    private func conv(_ name: String, units: Int, kernel: Int = 3, stride: Int? = nil, padding: Int? = nil,
                      pads: [Int]? = nil, groups: Int? = nil, dilation: Int? = nil, bias: Bool? = nil) -> LayerSpec {
        LayerSpec(.conv2d, name: name, units: units, kernel: kernel, stride: stride, padding: padding, bias: bias,
                  pads: pads, groups: groups, dilation: dilation)
    }

    private func randomInput(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() })
    }

    /// A convolution written as the textbook sum over PyTorch's definition (NHWC input,
    /// weight `[out, in/groups, k, k]`), for comparing against the layer's fast paths.
    private func naiveConv(_ x: Tensor, weight w: Tensor, bias: Tensor?, stride s: Int, pads p: [Int],
                           groups g: Int, dilation d: Int) -> Tensor {
        let n = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3]
        let out = w.shape[0], cg = w.shape[1], k = w.shape[2], og = out / g
        let oh = (h + p[0] + p[1] - d * (k - 1) - 1) / s + 1, ow = (wd + p[2] + p[3] - d * (k - 1) - 1) / s + 1
        var y = [Float](repeating: 0, count: n * oh * ow * out)
        for b in 0..<n { for i in 0..<oh { for j in 0..<ow { for o in 0..<out {
            var acc = bias?.data[o] ?? 0
            let gi = o / og
            for ci in 0..<cg { for ki in 0..<k { for kj in 0..<k {
                let ih = i * s - p[0] + ki * d, iw = j * s - p[2] + kj * d
                guard ih >= 0, ih < h, iw >= 0, iw < wd else { continue }
                acc += x.data[((b * h + ih) * wd + iw) * c + gi * cg + ci] * w.data[((o * cg + ci) * k + ki) * k + kj]
            } } }
            y[((b * oh + i) * ow + j) * out + o] = acc
        } } } }
        return Tensor(shape: [n, oh, ow, out], data: y)
    }

    private func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, tolerance, "\(what): largest difference \(worst)", file: file, line: line)
    }

    private func message(_ json: String) -> String {
        do {
            let spec = try ModelSpec.decode(json: Data(json.utf8))
            _ = try Sequential(spec: spec, seed: 0)
            return "no error"
        } catch let error as ModelSpecError {
            return error.message
        } catch {
            return "not a ModelSpecError: \(error)"
        }
    }

    // MARK: - Convolution gradients

    func testGroupedConvGradients() throws {
        try GradientCheck.checkLayer(conv("grouped", units: 6, padding: 1, groups: 2), shape: [5, 5, 4], batch: 2)
        try GradientCheck.checkLayer(conv("grouped_nobias_s2", units: 4, stride: 2, padding: 1, groups: 2, bias: false),
                                     shape: [6, 5, 6], batch: 2)
        try GradientCheck.checkLayer(conv("grouped_1x1", units: 9, kernel: 1, groups: 3), shape: [3, 3, 6], batch: 2)
    }

    func testDepthwiseConvGradients() throws {
        try GradientCheck.checkLayer(conv("dw", units: 3, padding: 1, groups: 3), shape: [5, 5, 3], batch: 2)
        try GradientCheck.checkLayer(conv("dw_nobias_s2", units: 3, stride: 2, padding: 1, groups: 3, bias: false),
                                     shape: [6, 7, 3], batch: 2)
        // 41 channels run the 32-wide, 8-wide and scalar channel loops of the kernel.
        try GradientCheck.checkLayer(conv("dw_wide", units: 41, padding: 1, groups: 41), shape: [4, 4, 41], batch: 2)
        try GradientCheck.checkLayer(conv("dw_mult2", units: 6, padding: 1, groups: 3), shape: [5, 5, 3], batch: 2)
        try GradientCheck.checkLayer(conv("dw_mult2_s2_nobias", units: 16, stride: 2, padding: 1, groups: 8, bias: false),
                                     shape: [5, 5, 8], batch: 2)
    }

    func testDilatedConvGradients() throws {
        try GradientCheck.checkLayer(conv("dilated", units: 3, padding: 2, dilation: 2), shape: [6, 6, 2], batch: 2)
        try GradientCheck.checkLayer(conv("dilated_dw", units: 4, padding: 2, groups: 4, dilation: 2), shape: [6, 5, 4], batch: 2)
        try GradientCheck.checkLayer(conv("dilated_grouped_s2", units: 4, stride: 2, padding: 1, groups: 2, dilation: 3, bias: false),
                                     shape: [7, 7, 4], batch: 2)
    }

    func testAsymmetricPaddingConvGradients() throws {
        // TensorFlow-style "same" padding for stride 2 (as EfficientNet ports use): extra row and column at the end.
        try GradientCheck.checkLayer(conv("asym", units: 3, stride: 2, pads: [0, 1, 0, 1]), shape: [6, 6, 2], batch: 2)
        try GradientCheck.checkLayer(conv("asym_dw", units: 4, stride: 2, pads: [1, 0, 2, 1], groups: 4, bias: false),
                                     shape: [5, 6, 4], batch: 2)
        try GradientCheck.checkLayer(conv("asym_grouped", units: 4, pads: [2, 0, 0, 1], groups: 2), shape: [4, 5, 4], batch: 2)
    }

    func testGroupedIm2colPathGradientsForDepthwise() throws {
        // The fallback path a depthwise layer takes when the direct kernel is switched off.
        var rng = SeededRandom(seed: 5)
        let layer = try XCTUnwrap(LayerFactory.make(conv("dw_im2col", units: 6, stride: 2, pads: [1, 0, 1, 1], groups: 3),
                                                    inputShape: [5, 5, 3], rng: &rng) as? Conv2D)
        layer.directDepthwise = false
        GradientCheck.check(name: "dw_im2col", x: randomInput([2, 5, 5, 3], seed: 6), parameters: layer.parameters,
                            forward: { layer.forward($0, mode: .training) },
                            backward: { layer.backward($0, needsInputGradient: true) })
    }

    // MARK: - Convolution values

    func testConvPathsMatchNaiveConvolution() throws {
        let cases: [(LayerSpec, [Int])] = [
            (conv("plain", units: 5, stride: 2, padding: 1), [7, 6, 3]),
            (conv("asym", units: 4, stride: 2, pads: [0, 1, 2, 1]), [6, 7, 3]),
            (conv("dilated", units: 2, padding: 2, dilation: 2), [6, 6, 3]),
            (conv("grouped", units: 6, stride: 2, pads: [1, 0, 0, 1], groups: 3, dilation: 2), [7, 7, 6]),
            (conv("depthwise", units: 37, stride: 2, pads: [1, 1, 0, 2], groups: 37), [6, 5, 37]),
            (conv("depthwise_mult3", units: 12, padding: 1, groups: 4, dilation: 2, bias: false), [5, 6, 4]),
        ]
        for (spec, shape) in cases {
            var rng = SeededRandom(seed: 11)
            let layer = try XCTUnwrap(LayerFactory.make(spec, inputShape: shape, rng: &rng) as? Conv2D)
            let x = randomInput([2] + shape, seed: 12)
            let expected = naiveConv(x, weight: layer.weight.value, bias: layer.bias?.value, stride: spec.stride ?? 1,
                                     pads: spec.pads ?? [Int](repeating: spec.padding ?? 0, count: 4),
                                     groups: spec.groups ?? 1, dilation: spec.dilation ?? 1)
            let y = layer.forward(x, mode: .evaluation)
            XCTAssertEqual(y.shape, expected.shape, spec.name)
            XCTAssertEqual(Array(y.shape.dropFirst()), try layer.outputShape(for: shape), spec.name)
            assertClose(y.data, expected.data, spec.name)
            if (spec.groups ?? 1) > 1 {
                layer.directDepthwise = false
                assertClose(layer.forward(x, mode: .evaluation).data, expected.data, spec.name + " (im2col path)")
            }
        }
    }

    func testDepthwiseEqualsPerChannelCorrelation() throws {
        // Per-channel 2-D correlation, each channel with its own 3×3 filter; bias added.
        var rng = SeededRandom(seed: 3)
        let layer = try XCTUnwrap(LayerFactory.make(conv("dw", units: 2, padding: 1, groups: 2),
                                                    inputShape: [4, 4, 2], rng: &rng) as? Conv2D)
        XCTAssertEqual(layer.weight.value.shape, [2, 1, 3, 3])
        let x = randomInput([1, 4, 4, 2], seed: 4)
        let y = layer.forward(x, mode: .evaluation)
        for ch in 0..<2 {
            for i in 0..<4 { for j in 0..<4 {
                var acc = layer.bias!.value.data[ch]
                for a in -1...1 { for b in -1...1 where (0..<4).contains(i + a) && (0..<4).contains(j + b) {
                    acc += x.data[((i + a) * 4 + (j + b)) * 2 + ch] * layer.weight.value.data[ch * 9 + (a + 1) * 3 + (b + 1)]
                } }
                XCTAssertEqual(y.data[(i * 4 + j) * 2 + ch], acc, accuracy: 1e-5, "channel \(ch) at (\(i), \(j))")
            } }
        }
    }

    func testHandComputedDilationAndAsymmetricPadding() throws {
        // x = 1...9 on a 3×3 grid, one channel, all-ones 2×2 kernel, no bias.
        let x = Tensor(shape: [1, 3, 3, 1], data: (1...9).map(Float.init))
        var rng = SeededRandom(seed: 1)
        let dilated = try XCTUnwrap(LayerFactory.make(conv("d", units: 1, kernel: 2, dilation: 2, bias: false),
                                                      inputShape: [3, 3, 1], rng: &rng) as? Conv2D)
        dilated.weight.value = Tensor(shape: [1, 1, 2, 2], repeating: 1)
        // Corners only: 1 + 3 + 7 + 9.
        XCTAssertEqual(dilated.forward(x, mode: .evaluation).data, [20])
        let padded = try XCTUnwrap(LayerFactory.make(conv("p", units: 1, kernel: 2, pads: [1, 0, 0, 1], bias: false),
                                                     inputShape: [3, 3, 1], rng: &rng) as? Conv2D)
        padded.weight.value = Tensor(shape: [1, 1, 2, 2], repeating: 1)
        // A zero row above and a zero column to the right.
        let y = padded.forward(x, mode: .evaluation)
        XCTAssertEqual(y.shape, [1, 3, 3, 1])
        XCTAssertEqual(y.data, [3, 5, 3, 12, 16, 9, 24, 28, 15])
    }

    // MARK: - Pooling

    func testPoolingWithAsymmetricPadsGradients() throws {
        try GradientCheck.checkLayer(LayerSpec(.maxpool2d, name: "max_asym", kernel: 3, stride: 2, pads: [1, 0, 0, 1]),
                                     shape: [6, 5, 3], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.avgpool2d, name: "avg_asym", kernel: 3, stride: 2, pads: [0, 1, 1, 0]),
                                     shape: [6, 5, 3], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.avgpool2d, name: "avg_pad", kernel: 3, stride: 1, padding: 1),
                                     shape: [4, 4, 2], batch: 2)
    }

    func testPaddingIgnoredByMaxCountedByAverage() throws {
        // All-negative input: a zero padding cell would win a max that counted it.
        let x = Tensor(shape: [1, 2, 2, 1], data: [-4, -3, -2, -1])
        var rng = SeededRandom(seed: 1)
        let maxPool = try LayerFactory.make(LayerSpec(.maxpool2d, name: "m", kernel: 2, stride: 1, pads: [1, 0, 1, 0]),
                                            inputShape: [2, 2, 1], rng: &rng)
        XCTAssertEqual(maxPool.forward(x, mode: .evaluation).data, [-4, -3, -2, -1])
        let avgPool = try LayerFactory.make(LayerSpec(.avgpool2d, name: "a", kernel: 2, stride: 1, pads: [1, 0, 1, 0]),
                                            inputShape: [2, 2, 1], rng: &rng)
        // count_include_pad: always divided by the window area 4.
        XCTAssertEqual(avgPool.forward(x, mode: .evaluation).data, [-1, -7.0 / 4, -6.0 / 4, -10.0 / 4])
    }

    func testAdaptiveAveragePoolGradients() throws {
        try GradientCheck.checkLayer(LayerSpec(.adaptiveavgpool, name: "ap1", outputSize: 1), shape: [4, 3, 3], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.adaptiveavgpool, name: "ap2", outputSize: 2), shape: [5, 5, 2], batch: 2)
        try GradientCheck.checkLayer(LayerSpec(.adaptiveavgpool, name: "ap3", outputSize: 3), shape: [7, 7, 2], batch: 2)
    }

    func testAdaptiveAveragePoolUsesPyTorchWindows() throws {
        // PyTorch's windows, written out: 5 → 2 averages [0, 3) and [2, 5); 7 → 3 averages
        // [0, 3), [2, 5) and [4, 7); 1 is the global mean.
        let windows: [Int: (Int, [Range<Int>])] = [1: (4, [0..<4]), 2: (5, [0..<3, 2..<5]), 3: (7, [0..<3, 2..<5, 4..<7])]
        for (o, (size, ranges)) in windows.sorted(by: { $0.key < $1.key }) {
            var rng = SeededRandom(seed: 2)
            let c = 3
            let layer = try LayerFactory.make(LayerSpec(.adaptiveavgpool, name: "ap", outputSize: o),
                                              inputShape: [size, size, c], rng: &rng)
            let x = randomInput([2, size, size, c], seed: UInt64(o))
            let y = layer.forward(x, mode: .evaluation)
            XCTAssertEqual(y.shape, [2, o, o, c])
            for n in 0..<2 { for i in 0..<o { for j in 0..<o { for ch in 0..<c {
                var sum: Float = 0
                for r in ranges[i] { for q in ranges[j] { sum += x.data[((n * size + r) * size + q) * c + ch] } }
                let mean = sum / Float(ranges[i].count * ranges[j].count)
                XCTAssertEqual(y.data[((n * o + i) * o + j) * c + ch], mean, accuracy: 1e-5, "o=\(o) (\(i), \(j))")
            } } } }
        }
    }

    // MARK: - Graph

    /// A torchvision BasicBlock with a downsampling shortcut, written as a graph.
    static func basicBlock(inChannels: Int, planes: Int, activation: LayerKind = .relu) -> ModelSpec {
        var spec = ModelSpec(inputShape: [6, 6, inChannels], layers: [
            LayerSpec(.conv2d, name: "conv1", units: planes, kernel: 3, stride: 2, padding: 1, bias: false, sources: ["input"]),
            LayerSpec(.batchnorm2d, name: "bn1"),
            LayerSpec(activation, name: "relu1"),
            LayerSpec(.conv2d, name: "conv2", units: planes, kernel: 3, padding: 1, bias: false),
            LayerSpec(.batchnorm2d, name: "bn2"),
            LayerSpec(.conv2d, name: "downsample.0", units: planes, kernel: 1, stride: 2, bias: false, sources: ["input"]),
            LayerSpec(.batchnorm2d, name: "downsample.1"),
            LayerSpec(.add, name: "add", sources: ["bn2", "downsample.1"]),
            LayerSpec(activation, name: "relu2"),
        ])
        spec.version = 2
        return spec
    }

    func testResNetBasicBlockGraphGradient() throws {
        let spec = Self.basicBlock(inChannels: 2, planes: 4)
        let decoded = try ModelSpec.decode(json: spec.encodedJSON())
        XCTAssertEqual(decoded, spec, "the graph survives JSON")
        let model = try Sequential(spec: decoded, seed: 7)
        XCTAssertEqual(model.outputShape, [3, 3, 4])
        XCTAssertEqual(model.stateDict().map(\.name).filter { $0.hasSuffix("weight") },
                       ["conv1.weight", "bn1.weight", "conv2.weight", "bn2.weight", "downsample.0.weight", "downsample.1.weight"])
        let x = randomInput([4, 6, 6, 2], seed: 8)
        // ReLU after a training-mode BatchNorm: a weight step of 1e-2 moves every value of a
        // channel, so some cross the kink; a finer step keeps the central difference on one side.
        checkFine(name: "basic block", x: x, parameters: model.parameters,
                  forward: { model.forward($0, mode: .training) },
                  backward: { model.backward($0, needsInputGradient: true) })
        // The same wiring with a smooth activation, at the shared helper's standard step.
        let smooth = try Sequential(spec: Self.basicBlock(inChannels: 2, planes: 4, activation: .gelu), seed: 7)
        GradientCheck.check(name: "basic block (gelu)", x: x, parameters: smooth.parameters,
                            forward: { smooth.forward($0, mode: .training) },
                            backward: { smooth.backward($0, needsInputGradient: true) })
    }

    func testInvertedResidualGraphGradient() throws {
        // MobileNetV2's block shape: expand 1×1, depthwise 3×3, project 1×1, residual add
        // (GELU for ReLU6 so the finite differences never straddle a kink).
        var spec = ModelSpec(inputShape: [5, 5, 3], layers: [
            LayerSpec(.conv2d, name: "conv.0.0", units: 6, kernel: 1, bias: false),
            LayerSpec(.batchnorm2d, name: "conv.0.1"),
            LayerSpec(.gelu, name: "conv.0.2"),
            LayerSpec(.conv2d, name: "conv.1.0", units: 6, kernel: 3, padding: 1, bias: false, groups: 6),
            LayerSpec(.batchnorm2d, name: "conv.1.1"),
            LayerSpec(.gelu, name: "conv.1.2"),
            LayerSpec(.conv2d, name: "conv.2", units: 3, kernel: 1, bias: false),
            LayerSpec(.batchnorm2d, name: "conv.3"),
            LayerSpec(.add, name: "residual", sources: ["input", "conv.3"]),
        ])
        spec.version = 2
        let model = try Sequential(spec: try ModelSpec.decode(json: spec.encodedJSON()), seed: 3)
        XCTAssertEqual(model.layer(named: "conv.1.0")?.parameters.first?.value.shape, [6, 1, 3, 3])
        let x = randomInput([3, 5, 5, 3], seed: 4)
        GradientCheck.check(name: "inverted residual", x: x, parameters: model.parameters,
                            forward: { model.forward($0, mode: .training) },
                            backward: { model.backward($0, needsInputGradient: true) })
    }

    /// `GradientCheck.check` with a step of 1e-3 (see the basic block test).
    private func checkFine(name: String, x: Tensor, parameters: [Parameter], forward: (Tensor) -> Tensor,
                           backward: (Tensor) -> Tensor?, file: StaticString = #filePath, line: UInt = #line) {
        let step: Float = 1e-3
        var rng = SeededRandom(seed: 99)
        let y = forward(x)
        let r = (0..<y.count).map { _ in rng.normal() }
        for p in parameters { p.zeroGrad() }
        guard let dx = backward(Tensor(shape: y.shape, data: r)) else { return XCTFail("\(name): no input gradient") }
        func difference(_ plus: Tensor, _ minus: Tensor) -> Float {
            Float((GradientCheck.weightedSum(plus, r) - GradientCheck.weightedSum(minus, r)) / Double(2 * step))
        }
        var numeric = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            var xp = x, xm = x
            xp.data[i] += step; xm.data[i] -= step
            numeric[i] = difference(forward(xp), forward(xm))
        }
        let inputError = GradientCheck.relativeError(dx.data, numeric)
        XCTAssertLessThan(inputError, GradientCheck.bound, "\(name): input gradient relative error \(inputError)", file: file, line: line)
        for p in parameters where p.isTrainable {
            var numeric = [Float](repeating: 0, count: p.value.count)
            for i in 0..<p.value.count {
                let saved = p.value.data[i]
                p.value.data[i] = saved + step
                let plus = forward(x)
                p.value.data[i] = saved - step
                let minus = forward(x)
                p.value.data[i] = saved
                numeric[i] = difference(plus, minus)
            }
            let err = GradientCheck.relativeError(p.grad.data, numeric)
            XCTAssertLessThan(err, GradientCheck.bound, "\(name): gradient of \(p.name) relative error \(err)", file: file, line: line)
        }
    }

    // MARK: - Hostile fields

    func testHostileConvAndPoolFieldsAreOneLineErrors() {
        func graph(_ input: String, _ node: String) -> String {
            #"{"version": 2, "inputShape": \#(input), "layers": [\#(node)]}"#
        }
        let cases: [(json: String, field: String)] = [
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 4, "stride": 0}"#), "stride"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 4, "kernel": 0}"#), "kernel"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 4, "kernel": -3}"#), "kernel"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 6, "groups": 3}"#), "groups"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 4, "groups": 0}"#), "groups"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 4, "dilation": 0}"#), "dilation"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 4, "pads": [1, -1, 0, 0]}"#), "pads"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 4, "pads": [1, 1]}"#), "pads"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 4, "padding": -2}"#), "padding"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 1000000000000}"#), "units"),
            (graph("[8, 8, 4]", #"{"kind": "conv2d", "name": "stem", "units": 4, "kernel": 3, "dilation": 9}"#), "dilation"),
            (graph("[8, 8, 4]", #"{"kind": "maxpool2d", "name": "stem", "stride": 0}"#), "stride"),
            (graph("[8, 8, 4]", #"{"kind": "avgpool2d", "name": "stem", "kernel": 0}"#), "kernel"),
            (graph("[8, 8, 4]", #"{"kind": "maxpool2d", "name": "stem", "kernel": 3, "pads": [2, 0, 0, 0]}"#), "padding"),
            (graph("[8, 8, 4]", #"{"kind": "adaptiveavgpool", "name": "stem", "outputSize": 0}"#), "outputSize"),
            (graph("[8, 8, 4]", #"{"kind": "adaptiveavgpool", "name": "stem", "outputSize": 9}"#), "outputSize"),
        ]
        for (json, field) in cases {
            let text = message(json)
            XCTAssertTrue(text.contains("'stem'"), "names the node: \(text) for \(json)")
            XCTAssertTrue(text.contains(field), "names '\(field)': \(text) for \(json)")
            XCTAssertFalse(text.contains("\n"), "one line: \(text)")
        }
    }

    func testAbsurdUnitsWrittenAsExponentIsAnError() {
        // JSON allows 1e12; whether it decodes as an integer or not, it must be an error, not a trap.
        let text = message(#"{"version": 2, "inputShape": [8, 8, 4], "layers": [{"kind": "conv2d", "name": "stem", "units": 1e12}]}"#)
        XCTAssertNotEqual(text, "no error")
        XCTAssertFalse(text.hasPrefix("not a ModelSpecError"), text)
        XCTAssertTrue(text.contains("units") || text.contains("parameters"), text)
        XCTAssertFalse(text.contains("\n"), text)
    }
}
