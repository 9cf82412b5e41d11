import XCTest
import CohortNN
import CohortTensor

/// Presets write torchvision / timm layouts: parameter names and counts as published.
final class PresetTests: XCTestCase {
    private func model(_ preset: ModelPreset, classes: Int = 1000, input: [Int] = [224, 224, 3],
                       configure: (inout PresetOptions) -> Void = { _ in }) throws -> Sequential {
        var options = PresetOptions(classes: classes, inputShape: input)
        configure(&options)
        return try Sequential(spec: try preset.spec(options), seed: 0)
    }

    /// Parameter counts of torchvision's resnet18 / resnet50 / densenet121 / mobilenet_v2 and
    /// timm's vit_tiny_patch16_224 (1000 classes).
    func testFullSizeParameterCountsMatchTorchvisionAndTimm() throws {
        XCTAssertEqual(try model(.resnet18, input: [64, 64, 3]).parameterCount, 11_689_512)
        XCTAssertEqual(try model(.resnet50, input: [64, 64, 3]).parameterCount, 25_557_032)
        XCTAssertEqual(try model(.densenet121, input: [64, 64, 3]).parameterCount, 7_978_856)
        XCTAssertEqual(try model(.mobilenetV2, input: [64, 64, 3]).parameterCount, 3_504_872)
        XCTAssertEqual(try model(.vitTiny).parameterCount, 5_717_416)
    }

    func testResNetNamesAreTorchvisions() throws {
        let m = try model(.resnet18, classes: 3, input: [32, 32, 3]) { $0.width = 4 }
        let names = m.stateDict().map(\.name)
        for name in ["conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.1.bn2.bias",
                     "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_mean", "layer4.1.conv2.weight",
                     "fc.weight", "fc.bias"] {
            XCTAssertTrue(names.contains(name), name)
        }
        XCTAssertFalse(names.contains("layer1.0.downsample.0.weight"), "stage 1 keeps its width: no downsample")
        XCTAssertEqual(m.outputShape, [3])
        XCTAssertEqual(m.layer(named: "layer4.1.conv2")!.parameters[0].value.shape, [32, 32, 3, 3])
    }

    func testPresetErrorsAreClear() {
        var options = PresetOptions(classes: 3, inputShape: [30, 30, 3])
        XCTAssertThrowsError(try ModelPreset.vitTiny.spec(options)) {
            XCTAssertEqual("\($0)", "preset vit-tiny: 'patchSize' 16 must divide the input 30×30")
        }
        options.width = 0
        XCTAssertThrowsError(try ModelPreset.resnet18.spec(options)) {
            XCTAssertEqual("\($0)", "preset resnet18: 'width' must be in 1...65536, got 0")
        }
        XCTAssertThrowsError(try ModelPreset.named("resnet19")) {
            XCTAssertEqual("\($0)", "unknown preset 'resnet19'; presets: resnet18, resnet50, densenet121, mobilenet_v2, vit-tiny")
        }
    }
}

/// Transfer learning on a preset graph: cut at a named feature node, cached features, a new head.
final class PresetTransferTests: XCTestCase {
    func testFeatureExtractionAtTheNamedNodeOfAResNet() throws {
        var options = PresetOptions(classes: 4, inputShape: [16, 16, 1])
        options.width = 2
        let preset = ModelPreset.resnet18
        let model = try Sequential(spec: try preset.spec(options), seed: 3)
        var rng = SeededRandom(seed: 1)
        let x = Tensor(shape: [6, 16, 16, 1], data: (0..<(6 * 256)).map { _ in rng.normal() })
        let (backbone, head) = try model.split(after: preset.featureNode)
        XCTAssertEqual(head.layers.map(\.name), ["fc"])
        XCTAssertEqual(backbone.outputShape, [16], "8·width channels after global pooling")
        let features = FeatureExtraction.cache(backbone: backbone, data: LabelledData(inputs: x, labels: [0, 1, 2, 3, 0, 1]))
        XCTAssertEqual(features.inputs.shape, [6, 16])
        XCTAssertEqual(head.forward(features.inputs, mode: .evaluation), model.forward(x, mode: .evaluation))
        // Head replacement by the preset's head node keeps every backbone tensor.
        let before = model.stateDict().filter { !$0.name.hasPrefix("fc.") }
        try model.replaceHead(from: preset.headNode, with: [LayerSpec(.dense, name: "fc", units: 7)], seed: 5)
        XCTAssertEqual(model.outputShape, [7])
        XCTAssertEqual(model.stateDict().filter { !$0.name.hasPrefix("fc.") }.map(\.value), before.map(\.value))
        // Freezing by prefix: only layer4 and the head train, and backward stops inside layer4.
        for p in model.parameters { p.isTrainable = p.name.hasPrefix("layer4.") || p.name.hasPrefix("fc.") }
        _ = model.forward(x, mode: .training)
        model.backward(Tensor(shape: [6, 7], repeating: 0.1))
        XCTAssertLessThan(model.lastBackwardLayerCount, 20, "the frozen stem and layers 1-3 run no backward")
        XCTAssertTrue(model.parameters.filter { $0.name.hasPrefix("layer3.") }.allSatisfy { $0.grad.data.allSatisfy { $0 == 0 } })
        XCTAssertTrue(model.parameters.filter { $0.name.hasPrefix("layer4.0.conv1") }.contains { $0.grad.data.contains { $0 != 0 } })
    }
}
