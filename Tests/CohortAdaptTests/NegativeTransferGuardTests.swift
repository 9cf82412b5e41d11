import XCTest
import CohortAdapt
import CohortNN
import CohortTensor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

final class NegativeTransferGuardTests: XCTestCase {
    /// Two moons; with `flipped` the labels are swapped (a model from an unrelated task).
    private func moons(_ n: Int, seed: UInt64, flipped: Bool = false) -> LabelledData {
        var rng = SeededRandom(seed: seed)
        var x: [Float] = [], y: [Int] = []
        for i in 0..<n {
            let t = Float.pi * rng.uniform()
            let (a, b): (Float, Float) = i % 2 == 0 ? (cosf(t), sinf(t)) : (1 - cosf(t), 0.5 - sinf(t))
            x += [a + 0.1 * rng.normal(), b + 0.1 * rng.normal()]
            y.append(flipped ? 1 - i % 2 : i % 2)
        }
        return LabelledData(inputs: Tensor(shape: [n, 2], data: x), labels: y)
    }

    private func mlp(seed: UInt64) throws -> Sequential {
        try Sequential(spec: ModelSpec(inputShape: [2], layers: [
            LayerSpec(.dense, name: "fc0", units: 32), LayerSpec(.relu, name: "relu0"), LayerSpec(.dense, name: "fc1", units: 2),
        ]), seed: seed)
    }

    /// Logistic regression: the small from-scratch model.
    private func linear() throws -> Sequential {
        try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "fc", units: 2)]), seed: 5)
    }

    private func trained(on data: LabelledData, seed: UInt64) throws -> Sequential {
        let model = try mlp(seed: seed)
        let opt = Adam(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.01)])
        _ = try Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 40, batchSize: 32)).fit(data)
        return model
    }

    private func roundTrip(_ report: NegativeTransferReport) throws -> NegativeTransferReport {
        try JSONDecoder().decode(NegativeTransferReport.self, from: JSONEncoder().encode(report))
    }

    func testIncomingWinsWhenTheSiteHasLittleDataForAScratchModel() throws {
        let incoming = try trained(on: moons(800, seed: 1), seed: 1)
        let train = moons(12, seed: 2), validation = moons(400, seed: 3)
        let (kept, report) = try NegativeTransferGuard.choose(train: train, validation: validation, incoming: incoming, makeScratch: linear)
        XCTAssertEqual(report.winner, .incoming, "\(report)")
        XCTAssertTrue(kept === incoming)
        XCTAssertNil(report.adaptedScore)
        XCTAssertGreaterThan(report.margin, 0.05, "\(report)")
        XCTAssertEqual(report.gainOverIncoming, 0)
        XCTAssertGreaterThanOrEqual(Inference.accuracy(kept, validation), max(report.incomingScore, report.scratchScore))
        XCTAssertEqual(try roundTrip(report), report)
    }

    func testScratchWinsOverAHarmfulIncomingModelAndItsAdaptation() throws {
        let incoming = try trained(on: moons(800, seed: 1, flipped: true), seed: 1)
        // A mild "adaptation" that cannot undo the flipped labels: a few steps on the site's data.
        let adapted = try trained(on: moons(800, seed: 1, flipped: true), seed: 1)
        let site = moons(300, seed: 2)
        let opt = Adam(groups: [ParameterGroup(parameters: adapted.parameters, learningRate: 1e-3)])
        _ = try Trainer(model: adapted, optimizer: opt, config: TrainingConfig(epochs: 1, batchSize: 100)).fit(site)
        let validation = moons(400, seed: 3)
        let (kept, report) = try NegativeTransferGuard.choose(train: site, validation: validation, incoming: incoming, adapted: adapted,
                                                              makeScratch: linear)
        XCTAssertEqual(report.winner, .scratch, "\(report)")
        XCTAssertFalse(kept === incoming || kept === adapted)
        XCTAssertGreaterThan(report.scratchScore, 0.8, "\(report)")
        XCTAssertLessThan(report.incomingScore, 0.3, "\(report)")
        XCTAssertGreaterThan(report.gainOverIncoming, 0.5, "\(report)")
        XCTAssertEqual(Inference.accuracy(kept, validation), report.scratchScore)
        XCTAssertGreaterThanOrEqual(report.scratchScore, max(report.incomingScore, report.adaptedScore!))
        XCTAssertEqual(try roundTrip(report), report)
    }

    func testRejectsEmptyValidationAndMismatchedLabels() throws {
        let incoming = try mlp(seed: 1)
        let empty = LabelledData(inputs: Tensor(shape: [0, 2]), labels: [])
        XCTAssertThrowsError(try NegativeTransferGuard.choose(train: moons(10, seed: 1), validation: empty, incoming: incoming, makeScratch: linear)) {
            XCTAssertTrue("\($0)".contains("validation"), "\($0)")
        }
        let threeClasses = LabelledData(inputs: Tensor(shape: [2, 2]), labels: [0, 2])
        XCTAssertThrowsError(try NegativeTransferGuard.choose(train: moons(10, seed: 1), validation: threeClasses, incoming: incoming, makeScratch: linear)) {
            XCTAssertTrue("\($0)".contains("incoming"), "\($0)")
        }
    }
}
