import XCTest
import CohortCheckpoint
import CohortNN
import CohortTensor
import Foundation

/// Every preset, at reduced width, imported from a PyTorch state_dict (written by
/// scripts/make-preset-fixtures.py) gives PyTorch's eval-mode logits within 1e-4 relative.
final class PresetLogitTests: XCTestCase {
    private struct Manifest: Decodable {
        struct Case: Decodable {
            let `case`: String
            let preset: String
            let options: PresetKnobs
            let inputShape: [Int]
            let classes: Int
            let weights: String
            let io: String
        }
        let cases: [Case]
    }


    private var folder: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/presets") }

    private func options(_ c: Manifest.Case) throws -> PresetOptions {
        var o = PresetOptions(classes: c.classes, inputShape: c.inputShape)
        c.options.apply(to: &o)
        return o
    }

    private func check(_ name: String) throws {
        let data = try Data(contentsOf: folder.appendingPathComponent("presets.json"))
        let manifest = try JSONDecoder().decode(Manifest.self, from: data)
        guard let c = manifest.cases.first(where: { $0.case == name }) else { return XCTFail("no fixture \(name)") }
        let model = try Sequential(spec: try ModelPreset.named(c.preset).spec(try options(c)), seed: 0)
        let (tensors, _) = try Safetensors.load(folder.appendingPathComponent(c.weights).path)
        let (state, ignored) = try StateImport.match(tensors, to: model, path: c.weights)
        // BatchNorm presets carry num_batches_tracked, which is ignored and listed; ViT has none.
        XCTAssertEqual(ignored.isEmpty, c.preset == "vit-tiny", "\(ignored)")
        XCTAssertTrue(ignored.allSatisfy { $0.hasSuffix(".num_batches_tracked") }, "\(ignored)")
        try model.load(Dictionary(uniqueKeysWithValues: state.map { ($0.name, $0.value) }))
        let io = Dictionary(uniqueKeysWithValues: try Safetensors.load(folder.appendingPathComponent(c.io).path).tensors.map { ($0.name, $0.value) })
        let input = try XCTUnwrap(io["input"]?.nchwToNHWC()), expected = try XCTUnwrap(io["logits"])
        // Evaluation runs node by node; inference fuses (conv+BN+ReLU, projection+GELU/residual).
        for mode in [ForwardMode.evaluation, .inference] {
            let logits = model.forward(input, mode: mode)
            XCTAssertEqual(logits.shape, expected.shape)
            let scale = expected.data.map(abs).max() ?? 1
            let worst = zip(logits.data, expected.data).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst / scale, 1e-4, "\(name) \(mode): max |Δlogit| \(worst) against max |logit| \(scale)")
        }
    }

    func testResNet18() throws { try check("resnet18") }
    func testResNet50() throws { try check("resnet50") }
    func testDenseNet121() throws { try check("densenet121") }
    func testMobileNetV2() throws { try check("mobilenet_v2") }
    func testViTTiny() throws { try check("vit-tiny") }
    func testViTTinyWithTorchAttentionNames() throws { try check("vit-tiny-torch-attn") }
}

/// A checkpoint whose stored architecture is hostile (written by someone else's tool) is a
/// clear error when the model is built, not a trap.
final class HostileCheckpointArchitectureTests: XCTestCase {
    func testHostileArchitecturesInACheckpointAreErrors() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let cases: [(ModelSpec, String)] = [
            (ModelSpec(inputShape: [8, 8, 1], layers: [LayerSpec(.conv2d, name: "c", units: 2, stride: 0)]),
             "layer 'c' (conv2d): 'stride' must be in 1...65536, got 0"),
            (ModelSpec(inputShape: [16], layers: [LayerSpec(.dense, name: "fc", units: 1_000_000_000_000)]),
             "layer 'fc' (dense): 'units' 1000000000000 is larger than the budget of 268435456 values per sample"),
            (ModelSpec(inputShape: [1 << 62], layers: [LayerSpec(.relu, name: "r")]),
             "model description: inputShape must be non-empty, positive and at most 268435456 values, got [4611686018427387904]"),
        ]
        for (i, (spec, expected)) in cases.enumerated() {
            let path = dir.path("hostile\(i).ckpt")
            try CheckpointFile.save(Checkpoint(architecture: spec, metadata: CheckpointMetadata(source: "test"), tensors: []), to: path)
            XCTAssertThrowsError(try CheckpointFile.load(path).makeModel(path: path)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }
}

/// A FIFO or directory given where a checkpoint is expected is refused at once (a FIFO once
/// blocked the process forever).
final class NonRegularFileTests: XCTestCase {
    func testFIFOAndDirectoryAreRefused() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let fifo = dir.path("model.ckpt")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for path in [fifo, dir.path("")] {
            XCTAssertThrowsError(try CheckpointFile.load(path)) { error in
                XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
            }
            XCTAssertThrowsError(try Safetensors.load(path)) { error in
                XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
            }
        }
    }
}
