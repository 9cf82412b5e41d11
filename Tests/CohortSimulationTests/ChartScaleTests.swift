import CohortSimulation
import XCTest

final class ChartScaleTests: XCTestCase {
    func testLinearNiceTicksOnUnitRange() {
        let scale = LinearScale(covering: 0, 1)
        XCTAssertEqual(scale.ticks, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
        XCTAssertEqual(scale.fraction(0.5), 0.5)
    }

    func testLinearNiceTicksExtendToStepMultiples() {
        let scale = LinearScale(covering: 0.62, 0.88)
        XCTAssertEqual(scale.ticks, [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9])
        XCTAssertEqual(scale.step, 0.05)
        XCTAssertEqual(LinearScale(covering: -3.2, 7.9).ticks, [-4, -2, 0, 2, 4, 6, 8])
        XCTAssertEqual(LinearScale(covering: 0, 1_234, targetTicks: 4).ticks, [0, 500, 1_000, 1_500])
    }

    func testIntegerStepsForRounds() {
        XCTAssertEqual(LinearScale(covering: 1, 20, targetTicks: 6, integerSteps: true).ticks, [0, 5, 10, 15, 20])
        XCTAssertEqual(LinearScale(covering: 1, 3, targetTicks: 8, integerSteps: true).ticks, [1, 2, 3])
        XCTAssertEqual(LinearScale(covering: 1, 1, integerSteps: true).ticks, [0, 1, 2], "a single round is centred")
    }

    func testDegenerateAndNonFiniteRanges() {
        XCTAssertEqual(LinearScale(covering: 0, 0).ticks.first, 0)
        XCTAssertEqual(LinearScale(covering: 0, 0).ticks.last, 1)
        XCTAssertEqual(LinearScale(covering: .nan, 3).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    }

    func testLogTicksAreDecades() {
        let scale = LogScale(covering: 900, 2.1e6)
        XCTAssertEqual(scale.ticks, [1e2, 1e3, 1e4, 1e5, 1e6, 1e7])
        XCTAssertEqual(scale.fraction(1e2), 0)
        XCTAssertEqual(scale.fraction(1e7), 1)
        XCTAssertEqual(scale.fraction(1e4), 0.4, accuracy: 1e-12)
    }

    func testLogScaleOnExactDecadesAndWideSpans() {
        XCTAssertEqual(LogScale(covering: 1_000, 1_000_000).ticks, [1e3, 1e4, 1e5, 1e6])
        XCTAssertEqual(LogScale(covering: 1_000, 100_000).ticks, [1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5],
                       "two decades or fewer also tick 2x and 5x")
        XCTAssertEqual(LogScale(covering: 5_000, 5_000).ticks, [1e3, 2e3, 5e3, 1e4])
        let wide = LogScale(covering: 1, 1e15, maxTicks: 8)
        XCTAssertEqual(wide.ticks, [1e0, 1e3, 1e6, 1e9, 1e12, 1e15], "every third decade, both ends ticked")
        XCTAssertEqual(LogScale(covering: 0, 0).ticks, [1, 2, 5, 10], "non-positive input falls back to 1")
    }
}
