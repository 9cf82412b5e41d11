import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor

final class AggregationTests: XCTestCase {
    private let global: [String: Tensor] = [
        "fc.weight": Tensor(shape: [2, 2], data: [1, 2, 3, 4]),
        "fc.bias": Tensor(shape: [2], data: [0, 0]),
    ]

    private func delta(_ w: [Float], _ b: [Float]) throws -> ModelDelta {
        try ModelDelta([("fc.weight", Tensor(shape: [2, 2], data: w)), ("fc.bias", Tensor(shape: [2], data: b))])
    }

    func testFedAvgIsTheSampleWeightedMeanDelta() throws {
        let s = FedAvg()
        s.begin(round: 1, global: global)
        try s.accumulate(try delta([1, 1, 1, 1], [2, 0]), samples: 10)
        try s.accumulate(try delta([4, 0, 0, 0], [-1, 3]), samples: 30)
        let next = try s.finish()
        // weight: old + (10·1 + 30·4)/40 = 1 + 3.25; bias: (10·2 + 30·(−1))/40 = −0.25, (0 + 90)/40 = 2.25
        XCTAssertEqual(next["fc.weight"]!.data, [4.25, 2.25, 3.25, 4.25])
        XCTAssertEqual(next["fc.bias"]!.data, [-0.25, 2.25])
        XCTAssertEqual(next["fc.weight"]!.shape, [2, 2])
        XCTAssertEqual(s.updateCount, 2)
        s.begin(round: 2, global: next)
        XCTAssertThrowsError(try s.finish()) { XCTAssertEqual("\($0)", "fedavg: no update was accepted this round") }
    }

    func testStreamingLargeUpdatesMatchesADoubleReference() throws {
        var rng = SeededRandom(seed: 1)
        let n = 300_000
        let g: [String: Tensor] = ["w": Tensor(shape: [n], data: (0..<n).map { _ in rng.normal() })]
        let updates = (0..<5).map { _ in (0..<n).map { _ in rng.normal() } }
        let samples = [3, 1, 7, 2, 5]
        let s = FedAvg()
        s.begin(round: 0, global: g)
        for (u, k) in zip(updates, samples) { try s.accumulate(try ModelDelta([("w", Tensor(shape: [n], data: u))]), samples: k) }
        let next = try s.finish()["w"]!
        var worst: Double = 0
        for i in stride(from: 0, to: n, by: 97) {
            var ref = 0.0
            for (u, k) in zip(updates, samples) { ref += Double(k) * Double(u[i]) }
            ref = Double(g["w"]!.data[i]) + ref / 18
            worst = max(worst, abs(Double(next.data[i]) - ref))
        }
        XCTAssertLessThan(worst, 1e-5)
    }

    func testBadUpdatesAreRejectedWithoutTouchingTheAggregate() throws {
        let s = FedAvg()
        s.begin(round: 1, global: global)
        try s.accumulate(try delta([1, 1, 1, 1], [1, 1]), samples: 4)
        XCTAssertThrowsError(try s.accumulate(try delta([.nan, 0, 0, 0], [0, 0]), samples: 4)) {
            XCTAssertEqual("\($0)", "update 'fc.weight' holds NaN or infinity")
        }
        XCTAssertThrowsError(try s.accumulate(try ModelDelta([("head.weight", Tensor(shape: [1]))]), samples: 4)) {
            XCTAssertEqual("\($0)", "update names 'head.weight', which the global model does not have")
        }
        XCTAssertThrowsError(try s.accumulate(try ModelDelta([("fc.bias", Tensor(shape: [3]))]), samples: 4)) {
            XCTAssertEqual("\($0)", "update 'fc.bias' has shape [3], the global model [2]")
        }
        XCTAssertThrowsError(try s.accumulate(try delta([1, 1, 1, 1], [1, 1]), samples: 0))
        XCTAssertEqual(s.updateCount, 1)
        XCTAssertEqual(try s.finish()["fc.bias"]!.data, [1, 1], "only the good update counted")
    }

    func testFedAdamFirstStepFollowsTheFormula() throws {
        let s = ServerOptimizer(.adam, learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3)
        s.begin(round: 1, global: global)
        try s.accumulate(try delta([2, -2, 0, 0.5], [0, 0]), samples: 1)
        let next = try s.finish()
        // m = 0.1Δ; v = 0.99τ² + 0.01Δ²; step = η·m/(√v + τ)
        for (i, d) in [Float(2), -2, 0, 0.5].enumerated() {
            let m = 0.1 * d, v = 0.99 * 1e-6 + 0.01 * d * d
            let expected = global["fc.weight"]!.data[i] + 0.1 * m / (v.squareRoot() + 1e-3)
            XCTAssertEqual(next["fc.weight"]!.data[i], expected, accuracy: 1e-5)
        }
        // Moments persist: a second identical round moves further in the same direction.
        s.begin(round: 2, global: next)
        try s.accumulate(try delta([2, -2, 0, 0.5], [0, 0]), samples: 1)
        let third = try s.finish()
        XCTAssertGreaterThan(third["fc.weight"]!.data[0] - next["fc.weight"]!.data[0], next["fc.weight"]!.data[0] - global["fc.weight"]!.data[0])
        for kind in [ServerOptimizer.Kind.yogi, .adagrad] {
            let o = ServerOptimizer(kind)
            o.begin(round: 1, global: global)
            try o.accumulate(try delta([1, 1, 1, 1], [1, 1]), samples: 2)
            XCTAssertTrue(try o.finish()["fc.weight"]!.data.allSatisfy { $0.isFinite }, kind.rawValue)
        }
    }

    func testMedianAndTrimmedMeanResistAnOutlier() throws {
        for strategy in [RobustAggregation(.median), RobustAggregation(.trimmedMean(trim: 0.2))] {
            strategy.begin(round: 1, global: global)
            for v in [Float(1), 1.1, 0.9, 1.05, 0.95] { try strategy.accumulate(try delta([v, v, v, v], [v, v]), samples: 10) }
            try strategy.accumulate(try delta([1e6, 1e6, 1e6, 1e6], [1e6, 1e6]), samples: 1_000_000)
            let next = try strategy.finish()
            XCTAssertEqual(next["fc.bias"]!.data[0], 1, accuracy: 0.1, strategy.name)
        }
        let avg = FedAvg()
        avg.begin(round: 1, global: global)
        try avg.accumulate(try delta([1, 1, 1, 1], [1, 1]), samples: 10)
        try avg.accumulate(try delta([1e6, 1e6, 1e6, 1e6], [1e6, 1e6]), samples: 1_000_000)
        XCTAssertGreaterThan(try avg.finish()["fc.bias"]!.data[0], 1000, "FedAvg is not robust: that is the point of the others")
    }

    func testFedBNKeepsBatchNormTensorsOutOfAggregation() throws {
        let model = try Sequential(spec: ModelSpec(inputShape: [3], layers: [
            LayerSpec(.dense, name: "fc", units: 2), LayerSpec(.batchnorm1d, name: "bn"), LayerSpec(.dense, name: "head", units: 2),
        ]), seed: 1)
        let names = FedBN.batchNormNames(of: model)
        XCTAssertEqual(names, ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"])
        let g = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.value) })
        let s = FedBN(base: FedAvg(), localNames: names)
        s.begin(round: 1, global: g)
        let d = try ModelDelta(model.stateDict().map { ($0.name, Tensor(shape: $0.value.shape, repeating: 1)) })
        try s.accumulate(d, samples: 5)
        let next = try s.finish()
        for name in names { XCTAssertEqual(next[name], g[name], name) }
        XCTAssertEqual(next["head.bias"]!.data, g["head.bias"]!.data.map { $0 + 1 })
        XCTAssertEqual(s.name, "fedbn+fedavg")
    }
}
