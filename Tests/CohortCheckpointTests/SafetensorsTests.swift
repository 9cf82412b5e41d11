import XCTest
import CohortCheckpoint
import CohortNN
import CohortTensor
import Foundation

/// Interop with files written by the Python `safetensors` library (fixture made by
/// scripts/make-safetensors-fixture.py with PyTorch 2.13).
final class SafetensorsTests: XCTestCase {
    private func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")).path
    }

    private struct Expected: Decodable {
        struct Bits: Decodable { let shape: [Int]; let bits: [String] }
        let tensors: [String: Bits]
        let input_nchw: Bits
        let logits: Bits
        let dtypes: [String: Bits]
    }

    private func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: try fixture("expected.json"))))
    }

    private func floats(_ b: Expected.Bits) -> [Float] { b.bits.map { Float(bitPattern: UInt32($0, radix: 16)!) } }

    func testReadsPyTorchFileBitForBit() throws {
        let (tensors, metadata) = try Safetensors.load(try fixture("model.safetensors"))
        XCTAssertEqual(metadata["source"], "scripts/make-safetensors-fixture.py")
        let exp = try expected()
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.value) })
        XCTAssertEqual(Set(byName.keys), Set(exp.tensors.keys).union(["features.1.num_batches_tracked"]))
        for (name, want) in exp.tensors {
            XCTAssertEqual(byName[name]?.shape, want.shape, name)
            XCTAssertEqual(byName[name]?.data.map(\.bitPattern), floats(want).map(\.bitPattern), name)
        }
        for (name, want) in exp.dtypes {
            let (t, _) = try Safetensors.load(try fixture("dtypes.safetensors"))
            XCTAssertEqual(t.first { $0.name == name }?.value.data.map(\.bitPattern), floats(want).map(\.bitPattern), name)
        }
    }

    func testImportedModelComputesPyTorchsLogits() throws {
        let arch = try ModelSpec.decode(json: Data(contentsOf: URL(fileURLWithPath: try fixture("arch.json"))))
        let model = try Sequential(spec: arch, seed: 0)
        let (tensors, _) = try Safetensors.load(try fixture("model.safetensors"))
        let (state, ignored) = try StateImport.match(tensors, to: model, path: "model.safetensors")
        XCTAssertEqual(ignored, ["features.1.num_batches_tracked"])
        try model.load(Dictionary(uniqueKeysWithValues: state.map { ($0.name, $0.value) }))
        let exp = try expected()
        // PyTorch's input is NCHW; Cohort's is NHWC.
        let nchw = floats(exp.input_nchw), s = exp.input_nchw.shape
        var nhwc = [Float](repeating: 0, count: nchw.count)
        for n in 0..<s[0] { for c in 0..<s[1] { for h in 0..<s[2] { for w in 0..<s[3] {
            nhwc[((n * s[2] + h) * s[3] + w) * s[1] + c] = nchw[((n * s[1] + c) * s[2] + h) * s[3] + w]
        } } } }
        let logits = model.forward(Tensor(shape: [s[0], s[2], s[3], s[1]], data: nhwc), mode: .evaluation)
        let want = floats(exp.logits)
        for i in 0..<want.count { XCTAssertEqual(logits.data[i], want[i], accuracy: 1e-5 * (1 + abs(want[i])), "logit \(i)") }
    }

    func testRoundTripCohortSafetensorsCohortIsExact() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let (tensors, _) = try Safetensors.load(try fixture("model.safetensors"))
        let floatsOnly = tensors.filter { !$0.name.hasSuffix("num_batches_tracked") }
        try Safetensors.save(floatsOnly, metadata: ["k": "v"], to: dir.path("out.safetensors"))
        let (again, meta) = try Safetensors.load(dir.path("out.safetensors"))
        XCTAssertEqual(meta, ["k": "v"])
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: again.map { ($0.name, $0.value) }),
                       Dictionary(uniqueKeysWithValues: floatsOnly.map { ($0.name, $0.value) }))
        let raw = try Data(contentsOf: URL(fileURLWithPath: dir.path("out.safetensors")))
        XCTAssertEqual((8 + Int(raw[0]) + Int(raw[1]) << 8) % 8, 0, "data is 8-byte aligned")
    }

    func testMismatchesAreAllListed() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [3], layers: [LayerSpec(.dense, name: "fc", units: 2), LayerSpec(.dense, name: "head", units: 2)]), seed: 0)
        let source: [(name: String, value: Tensor)] = [
            ("encoder.weight", Tensor(shape: [2, 3])), ("fc.bias", Tensor(shape: [3])),
            ("head.weight", Tensor(shape: [2, 2])), ("extra.weight", Tensor(shape: [1])),
        ]
        XCTAssertThrowsError(try StateImport.match(source, to: model, mapping: ["encoder.weight": "fc.weight"], path: "p")) {
            XCTAssertEqual("\($0)", "p: tensors do not fit the model: 'fc.bias': source shape [3], model needs [2]; missing 'head.bias' [2]; unexpected 'extra.weight' (no such tensor in the model; map it or remove it)")
        }
        let ok: [(name: String, value: Tensor)] = [("encoder.weight", Tensor(shape: [2, 3])), ("fc.bias", Tensor(shape: [2])),
                                                   ("head.weight", Tensor(shape: [2, 2])), ("head.bias", Tensor(shape: [2]))]
        XCTAssertEqual(try StateImport.match(ok, to: model, mapping: ["encoder.weight": "fc.weight"], path: "p").state.map(\.name),
                       ["fc.weight", "fc.bias", "head.weight", "head.bias"])
    }

    func testMalformedSafetensorsAreRefused() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let good = try Data(contentsOf: URL(fileURLWithPath: try fixture("model.safetensors")))
        func load(_ bytes: Data) -> String {
            let p = dir.path("bad.safetensors")
            try! bytes.write(to: URL(fileURLWithPath: p))
            do { _ = try Safetensors.load(p); return "loaded" } catch { return "\(error)" }
        }
        for cut in stride(from: 0, to: good.count, by: 5) { XCTAssertNotEqual(load(good.prefix(cut)), "loaded", "cut \(cut)") }
        var huge = good; huge[7] = 0x7F
        XCTAssertTrue(load(huge).contains("header length"))
        var json = good; json[9] = 0x00
        XCTAssertTrue(load(json).contains("not a JSON object"), load(json))
        XCTAssertTrue(load(good + Data([0, 0, 0, 0])).contains("bytes after the last tensor"))
    }
}
