import XCTest
import CohortNN
import CohortTensor

/// Issue 19: a model built with `.zeros` skips the large random draws, and nothing else changes:
/// loaded with a seeded model's state it is that model, dropout's generator included.
final class WeightInitializationTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [6, 6, 2], layers: [
        LayerSpec(.conv2d, name: "conv", units: 4, kernel: 3), LayerSpec(.relu, name: "r"), LayerSpec(.flatten, name: "f"),
        LayerSpec(.dense, name: "fc", units: 16), LayerSpec(.dropout, name: "drop", rate: 0.5), LayerSpec(.dense, name: "head", units: 3),
    ])

    func testZerosSkipsTheDrawsAndLoadedItIsTheSeededModel() throws {
        let seeded = try Sequential(spec: spec, seed: 5)
        let zeros = try Sequential(spec: spec, seed: 5, initialization: .zeros)
        XCTAssertEqual(zeros.spec, seeded.spec)
        for (name, value) in zeros.stateDict() where name.hasSuffix("weight") || name.hasSuffix("bias") {
            XCTAssertTrue(value.data.allSatisfy { $0 == 0 }, name)
        }
        XCTAssertTrue(seeded.stateDict().first { $0.name == "fc.weight" }!.value.data.contains { $0 != 0 })
        try zeros.load(Dictionary(uniqueKeysWithValues: seeded.stateDict().map { ($0.name, $0.value) }))
        var rng = SeededRandom(seed: 9)
        let x = Tensor(shape: [4, 6, 6, 2], data: (0..<288).map { _ in rng.normal() })
        // Training mode: dropout draws its masks; the same generator gives the same bits.
        XCTAssertEqual(zeros.forward(x, mode: .training).data.map(\.bitPattern), seeded.forward(x, mode: .training).data.map(\.bitPattern))
    }

    /// `.unfilled` (the node's model object, `copy()`'s twin) loaded with a seeded model's
    /// state is that model; `copy()` is an equal, independent model.
    func testUnfilledLoadedAndCopiesAreTheSeededModel() throws {
        let seeded = try Sequential(spec: spec, seed: 5)
        let unfilled = try Sequential(spec: spec, seed: 5, initialization: .unfilled)
        try unfilled.load(Dictionary(uniqueKeysWithValues: seeded.stateDict().map { ($0.name, $0.value) }))
        let copy = try seeded.copy()
        for model in [unfilled, copy] {
            XCTAssertEqual(model.stateDict().map { $0.value.data.map(\.bitPattern) }, seeded.stateDict().map { $0.value.data.map(\.bitPattern) })
        }
        copy.parameters[0].value.data[0] += 1
        XCTAssertNotEqual(copy.parameters[0].value.data[0], seeded.parameters[0].value.data[0], "independent")
    }

    /// `.seeded` (the default) draws exactly what it drew before: the weight, then the bias,
    /// from the layer's generator; `.zeros` leaves the generator where it was.
    func testSeededDrawsAsBeforeAndZerosLeavesTheGeneratorAlone() {
        var r1 = SeededRandom(seed: 3)
        let dense = Dense(spec: LayerSpec(.dense, name: "d", units: 4), inputs: 5, rng: &r1)
        var r2 = SeededRandom(seed: 3)
        let bound = 1 / Float(5).squareRoot()
        XCTAssertEqual(dense.weight.value.data.map(\.bitPattern), r2.uniformArray(count: 20, -bound, bound).map(\.bitPattern))
        XCTAssertEqual(dense.bias?.value.data.map(\.bitPattern), r2.uniformArray(count: 4, -bound, bound).map(\.bitPattern))
        XCTAssertEqual(r1.next(), r2.next())
        var r3 = SeededRandom(seed: 3)
        let zero = Dense(spec: LayerSpec(.dense, name: "d", units: 4), inputs: 5, rng: &r3, initialization: .zeros)
        XCTAssertEqual(zero.weight.value, Tensor(shape: [4, 5]))
        var fresh = SeededRandom(seed: 3)
        XCTAssertEqual(r3.next(), fresh.next())
    }
}
