import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Issue 16, point 3: what each `--test-attack` does to a node's update, labels and claimed
/// sample count.
final class ByzantineAttackTests: XCTestCase {
    private func delta() throws -> ModelDelta {
        try ModelDelta([("head.weight", Tensor(shape: [2, 2], data: [0.1, -0.2, 0.3, 0.0])), ("head.bias", Tensor(shape: [2], data: [0.05, -0.4]))])
    }

    private func values(_ d: ModelDelta) -> [Float] { d.names.flatMap { d[$0]!.data } }

    func testScaleMultipliesEveryValueByAThousand() throws {
        let honest = try delta()
        let sent = try ByzantineAttack.scale.corrupt(honest, seed: 1)
        XCTAssertEqual(sent.names, honest.names)
        for (s, h) in zip(values(sent), values(honest)) { XCTAssertEqual(s, h * 1000, accuracy: 1e-4) }
        XCTAssertEqual(ByzantineAttack.scale.claimedSamples(honest: 40), 40)
    }

    func testSignflipNegatesAndScalesByTen() throws {
        let honest = try delta()
        let sent = try ByzantineAttack.signflip.corrupt(honest, seed: 1)
        for (s, h) in zip(values(sent), values(honest)) { XCTAssertEqual(s, -10 * h, accuracy: 1e-6) }
        XCTAssertEqual(ByzantineAttack.signflip.claimedSamples(honest: 40), 40)
    }

    func testSampleInflationClaimsABillionWithTheUpdateNegated() throws {
        let honest = try delta()
        let sent = try ByzantineAttack.sampleInflation.corrupt(honest, seed: 1)
        XCTAssertEqual(values(sent), values(honest).map { -$0 })
        XCTAssertEqual(ByzantineAttack.sampleInflation.claimedSamples(honest: 40), 1_000_000_000)
        // The handshake accepts at most 10⁹: the claim must not be refused before it reaches screening.
        XCTAssertLessThanOrEqual(ByzantineAttack.inflatedSamples, 1_000_000_000)
    }

    func testNoiseHasAHundredTimesTheHonestNormAndIsSeeded() throws {
        let honest = try delta()
        let a = try ByzantineAttack.noise.corrupt(honest, seed: 7)
        let b = try ByzantineAttack.noise.corrupt(honest, seed: 7)
        let c = try ByzantineAttack.noise.corrupt(honest, seed: 8)
        XCTAssertEqual(ByzantineAttack.norm(a), 100 * ByzantineAttack.norm(honest), accuracy: 1e-3 * ByzantineAttack.norm(a))
        XCTAssertEqual(values(a), values(b))
        XCTAssertNotEqual(values(a), values(c))
        // Not the honest direction scaled: the cosine with the honest update is not ±1.
        let dot = zip(values(a), values(honest)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let cosine = dot / (ByzantineAttack.norm(a) * ByzantineAttack.norm(honest))
        XCTAssertLessThan(abs(cosine), 0.99)
        XCTAssertEqual(a.names, honest.names)
        XCTAssertEqual(a["head.weight"]?.shape, [2, 2])
    }

    func testLabelflipReversesTheClassesAndLeavesTheUpdate() throws {
        let honest = try delta()
        XCTAssertEqual(try ByzantineAttack.labelflip.corrupt(honest, seed: 1), honest)
        XCTAssertEqual(ByzantineAttack.labelflip.trainingLabels([0, 1, 2, 2, 0]), [2, 1, 0, 0, 2])
        XCTAssertEqual(ByzantineAttack.labelflip.trainingLabels([]), [])
        XCTAssertEqual(ByzantineAttack.labelflip.claimedSamples(honest: 40), 40)
        for attack in ByzantineAttack.allCases where attack != .labelflip {
            XCTAssertEqual(attack.trainingLabels([0, 1, 2]), [0, 1, 2], "\(attack)")
        }
    }

    func testANodeWithLabelflipTrainsOnFlippedLabels() {
        var config = TinyFederation.node("h", secret: TinyFederation.secret(0), port: 1)
        config.testAttack = .labelflip
        let node = FederatedNode(config: config)
        XCTAssertEqual(node.config.train.labels, TinyFederation.data.labels.map { 1 - $0 })
        XCTAssertEqual(node.config.validation.labels, TinyFederation.data.labels, "only the training labels are flipped")
    }

    func testUnknownAttackNamesTheKnownOnes() {
        XCTAssertThrowsError(try ByzantineAttack(parsing: "flood")) { error in
            XCTAssertEqual(error as? UnknownAttack, UnknownAttack(name: "flood"))
            XCTAssertTrue("\(error)".contains("sample-inflation"))
        }
        XCTAssertEqual(try ByzantineAttack(parsing: "sample-inflation"), .sampleInflation)
    }
}
