import XCTest
import CohortCheckpoint
import CohortNN
import CohortTensor

final class CheckpointMergeTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [3], layers: [
        LayerSpec(.dense, name: "fc", units: 2), LayerSpec(.batchnorm1d, name: "bn"),
    ])

    private func checkpoint(seed: UInt64) throws -> Checkpoint {
        let model = try Sequential(spec: spec, seed: seed)
        var rng = SeededRandom(seed: seed)
        _ = model.forward(Tensor(shape: [4, 3], data: (0..<12).map { _ in rng.normal() }), mode: .training)  // move BN statistics
        return Checkpoint(model: model, metadata: CheckpointMetadata(source: "seed \(seed)"))
    }

    func testWeightedMeanOfEveryTensorIncludingBatchNormStatistics() throws {
        let a = try checkpoint(seed: 1), b = try checkpoint(seed: 2)
        let merged = try CheckpointMerge.merge([("a", a), ("b", b)], weights: [3, 1])
        XCTAssertEqual(merged.tensors.map(\.name), a.tensors.map(\.name))
        for ((name, m), (ta, tb)) in zip(merged.tensors, zip(a.tensors, b.tensors)) {
            for i in 0..<m.count {
                XCTAssertEqual(m.data[i], 0.75 * ta.value.data[i] + 0.25 * tb.value.data[i], accuracy: 1e-6, "\(name)[\(i)]")
            }
        }
        XCTAssertTrue(merged.tensors.contains { $0.name == "bn.running_mean" })
        XCTAssertNoThrow(try merged.makeModel())
    }

    func testMismatchesNameTheFileAndTheProblem() throws {
        let a = try checkpoint(seed: 1)
        var b = try checkpoint(seed: 2)
        b.tensors[0].value = Tensor(shape: [2, 4])
        XCTAssertThrowsError(try CheckpointMerge.merge([("a.ckpt", a), ("b.ckpt", b)])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("b.ckpt") && text.contains("fc.weight"), text)
        }
        XCTAssertThrowsError(try CheckpointMerge.merge([("a", a), ("b", try checkpoint(seed: 2))], weights: [1])) { error in
            XCTAssertTrue("\(error)".contains("1 weights for 2 checkpoints"), "\(error)")
        }
        XCTAssertThrowsError(try CheckpointMerge.merge([("a", a), ("b", try checkpoint(seed: 2))], weights: [0, 0]))
    }
}
