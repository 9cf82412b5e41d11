import Foundation
import XCTest
import CohortNN
import CohortTensor

/// Cross-check of one attention layer against PyTorch (timm's `Attention` and
/// `nn.MultiheadAttention`), using the preset fixtures written by
/// `scripts/make-preset-fixtures.py` when they are present in the checkout (skipped otherwise:
/// the layer's own tests do not depend on them).
final class AttentionFixtureTests: XCTestCase {
    private var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CohortCheckpointTests/Fixtures/presets")
    }

    /// The float32 tensors of a safetensors file (enough for these fixtures; not a general reader).
    private func readSafetensors(_ url: URL) throws -> [String: Tensor] {
        let bytes = try Data(contentsOf: url)
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as? [String: Any])
        var out: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            let entry = try XCTUnwrap(value as? [String: Any])
            guard entry["dtype"] as? String == "F32" else { continue }
            let shape = try XCTUnwrap(entry["shape"] as? [Int]), offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
            let raw = bytes.subdata(in: (8 + n + offsets[0])..<(8 + n + offsets[1]))
            let values = raw.withUnsafeBytes { p in (0..<(raw.count / 4)).map { p.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
            out[name] = Tensor(shape: shape, data: values)
        }
        return out
    }

    func testBothLayoutsMatchPyTorch() throws {
        let io = fixtures.appendingPathComponent("attention.io.safetensors")
        guard FileManager.default.fileExists(atPath: io.path) else { throw XCTSkip("no attention fixture at \(io.path)") }
        let data = try readSafetensors(io)
        let x = try XCTUnwrap(data["input"]), expected = try XCTUnwrap(data["output"])
        for layout in ["timm", "torch"] {
            let weights = try readSafetensors(fixtures.appendingPathComponent("attention-\(layout).safetensors"))
            var rng = SeededRandom(seed: 1)
            let layer = try LayerFactory.make(LayerSpec(.attention, name: "attn", heads: 2, layout: layout),
                                              inputShape: Array(x.shape.dropFirst()), rng: &rng)
            try Sequential(inputShape: Array(x.shape.dropFirst()), layers: [layer])
                .load(Dictionary(uniqueKeysWithValues: weights.map { ("attn." + $0.key, $0.value) }))
            let y = layer.forward(x, mode: .evaluation)
            XCTAssertEqual(y.shape, expected.shape)
            let err = GradientCheck.relativeError(y.data, expected.data)
            XCTAssertLessThan(err, 1e-5, "\(layout): relative difference \(err) from PyTorch")
        }
    }
}
