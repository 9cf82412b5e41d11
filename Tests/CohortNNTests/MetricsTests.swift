import CohortNN
import Foundation
import CohortTensor
import XCTest

/// Classification metrics against hand-computed values and brute-force definitions.
final class MetricsTests: XCTestCase {
    private typealias M = ClassificationMetrics

    /// The thrown ``MetricsError`` message, or nil when `body` did not throw.
    private func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return (error as? MetricsError)?.description ?? "unexpected error type: \(error)"
        }
    }

    // MARK: - Accuracy, confusion matrix, balanced accuracy, F1

    // Three classes, ten samples:
    //   labels      0 0 0 1 1 1 1 2 2 2
    //   predictions 0 0 1 1 1 1 2 2 2 2
    // Confusion (rows true, columns predicted):
    //   true 0: 2 1 0   (support 3)
    //   true 1: 0 3 1   (support 4)
    //   true 2: 0 0 3   (support 3)
    //   column sums (predicted): 2 4 4
    private let labels3 = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    private let predictions3 = [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]

    func testAccuracy() throws {
        // Diagonal 2 + 3 + 3 = 8 of 10.
        XCTAssertEqual(try M.accuracy(labels: labels3, predictions: predictions3), 0.8, accuracy: 1e-12)
        XCTAssertEqual(try M.accuracy(labels: [1, 2], predictions: [1, 2]), 1)
        XCTAssertEqual(try M.accuracy(labels: [1, 2], predictions: [2, 1]), 0)
    }

    func testConfusionMatrixCounts() throws {
        let matrix = try M.confusionMatrix(labels: labels3, predictions: predictions3, classes: 3)
        XCTAssertEqual(matrix.classes, 3)
        XCTAssertEqual(matrix.counts, [2, 1, 0,
                                       0, 3, 1,
                                       0, 0, 3])
        XCTAssertEqual(matrix[label: 1, predicted: 2], 1)
        XCTAssertEqual(matrix[label: 0, predicted: 1], 1)
        XCTAssertEqual(matrix.total, 10)
        XCTAssertEqual(matrix.correct, 8)
        XCTAssertEqual((0..<3).map(matrix.support(of:)), [3, 4, 3])
        XCTAssertEqual((0..<3).map(matrix.predictedCount(of:)), [2, 4, 4])
        XCTAssertEqual(matrix, ConfusionMatrix(classes: 3, counts: [2, 1, 0, 0, 3, 1, 0, 0, 3]))
    }

    func testConfusionMatrixRendering() throws {
        let matrix = ConfusionMatrix(classes: 3, counts: [2, 1, 0, 0, 13, 1, 0, 0, 3])
        XCTAssertEqual(matrix.description, """
            true\\pred   0   1   2
                    0   2   1   0
                    1   0  13   1
                    2   0   0   3
            """)
        XCTAssertEqual(matrix.rendered(classNames: ["cat", "dog", "owl"]), """
            true\\pred  cat  dog  owl
                  cat    2    1    0
                  dog    0   13    1
                  owl    0    0    3
            """)
    }

    func testPerClassScores() throws {
        let scores = try M.classScores(labels: labels3, predictions: predictions3, classes: 3)
        // Class 0: TP 2, predicted 2, support 3 -> P = 1, R = 2/3, F1 = 2*2/(2+3) = 4/5.
        // Class 1: TP 3, predicted 4, support 4 -> P = 3/4, R = 3/4, F1 = 6/8 = 3/4.
        // Class 2: TP 3, predicted 4, support 3 -> P = 3/4, R = 1, F1 = 6/7.
        let expected: [(p: Double, r: Double, f1: Double)] = [(1, 2.0 / 3, 0.8), (0.75, 0.75, 0.75), (0.75, 1, 6.0 / 7)]
        XCTAssertEqual(scores.map(\.label), [0, 1, 2])
        XCTAssertEqual(scores.map(\.support), [3, 4, 3])
        XCTAssertEqual(scores.map(\.predicted), [2, 4, 4])
        for (got, want) in zip(scores, expected) {
            XCTAssertEqual(got.precision, want.p, accuracy: 1e-12, "precision of class \(got.label)")
            XCTAssertEqual(got.recall, want.r, accuracy: 1e-12, "recall of class \(got.label)")
            XCTAssertEqual(got.f1, want.f1, accuracy: 1e-12, "F1 of class \(got.label)")
        }
    }

    func testMacroF1() throws {
        // (4/5 + 3/4 + 6/7) / 3 = (112 + 105 + 120) / 140 / 3 = 337/420 ≈ 0.802381.
        XCTAssertEqual(try M.macroF1(labels: labels3, predictions: predictions3, classes: 3), 337.0 / 420, accuracy: 1e-12)
    }

    func testBalancedAccuracy() throws {
        // Recalls 2/3, 3/4, 1 -> (8 + 9 + 12) / 12 / 3 = 29/36 ≈ 0.805556 (accuracy is 0.8).
        XCTAssertEqual(try M.balancedAccuracy(labels: labels3, predictions: predictions3, classes: 3), 29.0 / 36, accuracy: 1e-12)
    }

    func testBalancedAccuracyDiffersFromAccuracyWhenImbalanced() throws {
        // Eight samples of class 0, one each of 1 and 2; always predicting 0:
        //   accuracy = 8/10 = 0.8, but recalls are 1, 0, 0 -> balanced accuracy = 1/3.
        // Macro F1: class 0 has P = 8/10, R = 1, F1 = 16/18 = 8/9; classes 1 and 2 have F1 0
        //   (both occur in the labels, so both count) -> (8/9) / 3 = 8/27 ≈ 0.296296.
        let labels = [0, 0, 0, 0, 0, 0, 0, 0, 1, 2]
        let predictions = [Int](repeating: 0, count: 10)
        XCTAssertEqual(try M.accuracy(labels: labels, predictions: predictions), 0.8, accuracy: 1e-12)
        XCTAssertEqual(try M.balancedAccuracy(labels: labels, predictions: predictions, classes: 3), 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(try M.macroF1(labels: labels, predictions: predictions, classes: 3), 8.0 / 27, accuracy: 1e-12)
    }

    func testBalancedAccuracyAndMacroF1SkipAbsentClasses() throws {
        // Five declared classes, only 0 and 1 occur anywhere: recalls 1/2 and 1 -> 3/4.
        // F1: class 0 TP 1, predicted 1, support 2 -> 2/3; class 1 TP 1, predicted 2, support 1 -> 2/3.
        let labels = [0, 0, 1], predictions = [0, 1, 1]
        XCTAssertEqual(try M.balancedAccuracy(labels: labels, predictions: predictions, classes: 5), 0.75, accuracy: 1e-12)
        XCTAssertEqual(try M.macroF1(labels: labels, predictions: predictions, classes: 5), 2.0 / 3, accuracy: 1e-12)
    }

    func testMacroF1CountsClassesThatAreOnlyPredicted() throws {
        // Class 2 never occurs in the labels but is predicted once: its F1 is 0 and it counts.
        // Class 0: TP 1, predicted 1, support 2 -> 2/3. Class 1: TP 1, predicted 1, support 1 -> 1.
        // Macro = (2/3 + 1 + 0) / 3 = 5/9. Balanced accuracy ignores class 2: (1/2 + 1) / 2 = 3/4.
        let labels = [0, 0, 1], predictions = [0, 2, 1]
        XCTAssertEqual(try M.macroF1(labels: labels, predictions: predictions, classes: 3), 5.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(try M.balancedAccuracy(labels: labels, predictions: predictions, classes: 3), 0.75, accuracy: 1e-12)
    }

    func testBinaryF1() throws {
        //   labels      1 1 1 0 0 0 0 1
        //   predictions 1 0 1 1 1 0 0 1
        // Positive 1: TP 3 (samples 0, 2, 7), FN 1 (1), FP 2 (3, 4) -> 2*3 / (6 + 1 + 2) = 2/3.
        // Positive 0: TP 2 (5, 6), FN 2 (3, 4), FP 1 (1)           -> 2*2 / (4 + 2 + 1) = 4/7.
        let labels = [1, 1, 1, 0, 0, 0, 0, 1]
        let predictions = [1, 0, 1, 1, 1, 0, 0, 1]
        XCTAssertEqual(try M.binaryF1(labels: labels, predictions: predictions), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(try M.binaryF1(labels: labels, predictions: predictions, positiveClass: 0), 4.0 / 7, accuracy: 1e-12)
        // Agrees with the per-class F1 of the confusion matrix.
        let perClass = try M.classScores(labels: labels, predictions: predictions, classes: 2)
        XCTAssertEqual(perClass[1].f1, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(perClass[0].f1, 4.0 / 7, accuracy: 1e-12)
        // A class in neither labels nor predictions has F1 0 (no division by zero).
        XCTAssertEqual(try M.binaryF1(labels: labels, predictions: predictions, positiveClass: 7), 0)
    }

    func testArgmax() throws {
        // Rows: [0.1 0.7 0.2] -> 1, [0.5 0.5 0] -> 0 (tie to the lower index), [-1 -3 -0.5] -> 2.
        XCTAssertEqual(try M.argmax(scores: [0.1, 0.7, 0.2, 0.5, 0.5, 0, -1, -3, -0.5], classes: 3), [1, 0, 2])
        XCTAssertEqual(try M.argmax(scores: [], classes: 3), [])
    }

    // MARK: - AUROC

    func testAUROCWithTiesByHand() throws {
        //   labels 0    0    1     1    0    1
        //   scores 0.1  0.4  0.35  0.8  0.4  0.4
        // Ascending with average ranks: 0.1(-) 1, 0.35(+) 2, {0.4(-), 0.4(-), 0.4(+)} 4 each, 0.8(+) 6.
        // R+ = 2 + 4 + 6 = 12; U = 12 - 3*4/2 = 6; AUROC = 6 / (3*3) = 2/3.
        // Pairwise check: 0.35 beats 0.1 (1); 0.8 beats all (3); 0.4 beats 0.1 and ties two 0.4s (1 + 2*0.5) -> 6.
        let area = try M.auroc(labels: [0, 0, 1, 1, 0, 1], scores: [0.1, 0.4, 0.35, 0.8, 0.4, 0.4])
        XCTAssertEqual(try XCTUnwrap(area), 2.0 / 3, accuracy: 1e-12)
    }

    func testAUROCPerfectInvertedAndConstant() throws {
        let labels = [0, 0, 0, 1, 1]
        XCTAssertEqual(try M.auroc(labels: labels, scores: [0.1, 0.2, 0.3, 0.8, 0.9]), 1)
        XCTAssertEqual(try M.auroc(labels: labels, scores: [0.9, 0.8, 0.7, 0.2, 0.1]), 0)
        XCTAssertEqual(try M.auroc(labels: labels, scores: [0.5, 0.5, 0.5, 0.5, 0.5]), 0.5, "all tied is chance")
        XCTAssertEqual(try M.auroc(labels: labels, scores: [-.infinity, 0, 0, 1, .infinity]), 1, "infinities rank normally")
    }

    func testAUROCPositiveClassChoice() throws {
        // With class 2 positive, labels 0 and 1 are both negatives: 2 beats 0.3 and 0.1 -> 1.
        XCTAssertEqual(try M.auroc(labels: [0, 1, 2], scores: [0.3, 0.1, 0.9], positiveClass: 2), 1)
        // With class 0 positive: 0.3 beats 0.1 but not 0.9 -> 1/2.
        XCTAssertEqual(try M.auroc(labels: [0, 1, 2], scores: [0.3, 0.1, 0.9], positiveClass: 0), 0.5)
    }

    func testAUROCUndefinedWithOneClass() throws {
        XCTAssertNil(try M.auroc(labels: [1, 1, 1], scores: [0.2, 0.5, 0.9]))
        XCTAssertNil(try M.auroc(labels: [0, 0], scores: [0.2, 0.5]))
    }

    /// Pairwise definition: P(score+ > score-) + ½ P(score+ == score-), over all pairs.
    private func bruteForceAUROC(_ isPositive: [Bool], _ scores: [Float]) -> Double? {
        var wins = 0.0, pairs = 0.0
        for i in scores.indices where isPositive[i] {
            for j in scores.indices where !isPositive[j] {
                pairs += 1
                if scores[i] > scores[j] { wins += 1 } else if scores[i] == scores[j] { wins += 0.5 }
            }
        }
        return pairs == 0 ? nil : wins / pairs
    }

    func testAUROCMatchesPairwiseCountingOnRandomTiedData() throws {
        for seed in 1...20 as ClosedRange<UInt64> {
            var rng = SeededRandom(seed: seed)
            let n = 20 + rng.int(below: 200)
            let levels = 2 + rng.int(below: 12)  // few distinct scores -> many ties
            let labels = (0..<n).map { _ in rng.int(below: 2) }
            // Positives lean higher so the areas spread away from 1/2.
            let scores = labels.map { Float(min(levels - 1, rng.int(below: levels) + $0)) / Float(levels) }
            let want = bruteForceAUROC(labels.map { $0 == 1 }, scores)
            let got = try M.auroc(labels: labels, scores: scores)
            XCTAssertEqual(got == nil, want == nil, "seed \(seed)")
            if let got, let want { XCTAssertEqual(got, want, accuracy: 1e-12, "seed \(seed)") }
        }
    }

    // Three classes, four samples (rows are samples, columns classes):
    //   label 0: 0.7 0.2 0.1
    //   label 1: 0.3 0.4 0.3
    //   label 2: 0.2 0.3 0.5
    //   label 2: 0.1 0.6 0.3
    // Class 0 column: positive 0.7 beats 0.3, 0.2, 0.1                 -> 3/3 = 1.
    // Class 1 column: positive 0.4 beats 0.2, 0.3, loses to 0.6        -> 2/3.
    // Class 2 column: positives 0.5, 0.3 vs negatives 0.1, 0.3:
    //                 0.5 beats both (2); 0.3 beats 0.1, ties 0.3 (1.5) -> 3.5/4 = 7/8.
    // Macro = (1 + 2/3 + 7/8) / 3 = (24 + 16 + 21) / 24 / 3 = 61/72 ≈ 0.847222.
    private let labels4 = [0, 1, 2, 2]
    private let probabilities4: [Float] = [0.7, 0.2, 0.1,
                                           0.3, 0.4, 0.3,
                                           0.2, 0.3, 0.5,
                                           0.1, 0.6, 0.3]

    func testMacroAUROCByHand() throws {
        let area = try M.macroAUROC(labels: labels4, scores: probabilities4, classes: 3)
        XCTAssertEqual(try XCTUnwrap(area), 61.0 / 72, accuracy: 1e-12)
    }

    func testMacroAUROCSkipsClassesAbsentFromLabels() throws {
        // A fourth class that never occurs: its column is ignored, the other three are unchanged.
        var widened: [Float] = []
        for row in 0..<4 { widened += probabilities4[(row * 3)..<(row * 3 + 3)] + [0.25] }
        let area = try M.macroAUROC(labels: labels4, scores: widened, classes: 4)
        XCTAssertEqual(try XCTUnwrap(area), 61.0 / 72, accuracy: 1e-12)
    }

    func testMacroAUROCUndefinedWithOneClassPresent() throws {
        XCTAssertNil(try M.macroAUROC(labels: [2, 2], scores: [0.1, 0.2, 0.7, 0.3, 0.3, 0.4], classes: 3))
    }

    func testMacroAUROCMatchesBruteForcePerClass() throws {
        var rng = SeededRandom(seed: 42)
        let n = 150, classes = 4
        let labels = (0..<n).map { _ in rng.int(below: classes - 1) }  // class 3 never occurs
        let scores = (0..<(n * classes)).map { _ in Float(rng.int(below: 6)) / 5 }
        var areas: [Double] = []
        for c in 0..<classes where labels.contains(c) {
            let column = (0..<n).map { scores[$0 * classes + c] }
            areas.append(try XCTUnwrap(bruteForceAUROC(labels.map { $0 == c }, column)))
        }
        let want = areas.reduce(0, +) / Double(areas.count)
        XCTAssertEqual(try XCTUnwrap(M.macroAUROC(labels: labels, scores: scores, classes: classes)), want, accuracy: 1e-12)
    }

    // MARK: - Report

    func testReportMulticlass() throws {
        // Argmax predictions: 0, 1, 2, 1 against labels 0, 1, 2, 2.
        // Confusion: [1 0 0; 0 1 0; 0 1 1]. Accuracy 3/4.
        // Recalls 1, 1, 1/2 -> balanced 5/6. F1: 1; class 1 TP 1, pred 2, support 1 -> 2/3;
        // class 2 TP 1, pred 1, support 2 -> 2/3 -> macro 7/9. AUROC 61/72 (above).
        let report = try ClassificationReport(labels: labels4, probabilities: probabilities4, classes: 3)
        XCTAssertEqual(report.samples, 4)
        XCTAssertEqual(report.accuracy, 0.75, accuracy: 1e-12)
        XCTAssertEqual(report.balancedAccuracy, 5.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(report.macroF1, 7.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(report.auroc), 61.0 / 72, accuracy: 1e-12)
        XCTAssertEqual(report.confusion.counts, [1, 0, 0, 0, 1, 0, 0, 1, 1])
        XCTAssertEqual(report.description, """
            samples            4
            accuracy           0.7500
            balanced accuracy  0.8333
            macro F1           0.7778
            AUROC              0.8472
            true\\pred  0  1  2
                    0  1  0  0
                    1  0  1  0
                    2  0  1  1
            """)
    }

    func testReportBinaryUsesPositiveColumn() throws {
        // Column 1 scores 0.9, 0.4, 0.6, 0.2 for labels 1, 1, 0, 0:
        // positive 0.9 beats both negatives, 0.4 beats 0.2 only -> 3/4.
        // Predictions (argmax) 1, 0, 1, 0 -> accuracy 1/2, balanced 1/2, F1 1/2 for both classes.
        let probabilities: [Float] = [0.1, 0.9, 0.6, 0.4, 0.4, 0.6, 0.8, 0.2]
        let report = try ClassificationReport(labels: [1, 1, 0, 0], probabilities: probabilities, classes: 2)
        XCTAssertEqual(try XCTUnwrap(report.auroc), 0.75, accuracy: 1e-12)
        XCTAssertEqual(report.accuracy, 0.5, accuracy: 1e-12)
        XCTAssertEqual(report.balancedAccuracy, 0.5, accuracy: 1e-12)
        XCTAssertEqual(report.macroF1, 0.5, accuracy: 1e-12)
    }

    func testReportAUROCNilWithOneClassPresent() throws {
        let report = try ClassificationReport(labels: [0, 0], probabilities: [0.9, 0.1, 0.4, 0.6], classes: 2)
        XCTAssertNil(report.auroc)
        XCTAssertEqual(report.accuracy, 0.5)
        XCTAssertTrue(report.description.contains("AUROC              undefined"))
    }

    func testReportCodableRoundTrip() throws {
        let report = try ClassificationReport(labels: labels4, probabilities: probabilities4, classes: 3)
        let data = try JSONEncoder().encode(report)
        XCTAssertEqual(try JSONDecoder().decode(ClassificationReport.self, from: data), report)
        let undefined = try ClassificationReport(labels: [0, 0], probabilities: [0.9, 0.1, 0.4, 0.6], classes: 2)
        XCTAssertEqual(try JSONDecoder().decode(ClassificationReport.self, from: JSONEncoder().encode(undefined)), undefined)
    }

    func testConfusionMatrixDecodingRejectsBadCounts() {
        let bad = Data(#"{"classes": 2, "counts": [1, 2, 3]}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(ConfusionMatrix.self, from: bad))
        let empty = Data(#"{"classes": 1, "counts": [0]}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(ConfusionMatrix.self, from: empty))
        let negative = Data(#"{"classes": 1, "counts": [-1]}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(ConfusionMatrix.self, from: negative))
    }

    // MARK: - Errors

    func testErrorMessages() {
        XCTAssertEqual(message { _ = try M.accuracy(labels: [], predictions: []) },
                       "labels is empty: a metric needs at least one sample")
        XCTAssertEqual(message { _ = try M.accuracy(labels: [0, 1], predictions: [0]) },
                       "predictions has 1 entries, expected 2 (one per label)")
        XCTAssertEqual(message { _ = try M.confusionMatrix(labels: [0, 1, 2, 7], predictions: [0, 0, 0, 0], classes: 3) },
                       "labels[3] = 7 is not a class in 0..<3")
        XCTAssertEqual(message { _ = try M.macroF1(labels: [0, 1], predictions: [0, -1], classes: 3) },
                       "predictions[1] = -1 is not a class in 0..<3")
        XCTAssertEqual(message { _ = try M.auroc(labels: [0, 1, 1], scores: [0.1, .nan, 0.3]) },
                       "scores[1] is NaN")
        XCTAssertEqual(message { _ = try M.auroc(labels: [0, 1, 1], scores: [0.1, 0.3]) },
                       "scores has 2 entries, expected 3 (one per label)")
        XCTAssertEqual(message { _ = try M.macroAUROC(labels: [0, 1], scores: [0.1, 0.9, 0.8], classes: 2) },
                       "scores has 3 entries, expected 4 (2 samples x 2 classes)")
        XCTAssertEqual(message { _ = try M.macroAUROC(labels: [0, 3], scores: [0.1, 0.9, 0.8, 0.2], classes: 2) },
                       "labels[1] = 3 is not a class in 0..<2")
        XCTAssertEqual(message { _ = try M.argmax(scores: [0.1, 0.2, 0.3], classes: 2) },
                       "scores has 3 entries, not a whole number of rows of 2 classes")
        XCTAssertEqual(message { _ = try ClassificationReport(labels: [0, 1], probabilities: [0.5, 0.5, .nan, 0.5], classes: 2) },
                       "probabilities[2] is NaN")
        XCTAssertEqual(message { _ = try ClassificationReport(labels: [0, 1], probabilities: [0.5, 0.5], classes: 2) },
                       "probabilities has 2 entries, expected 4 (2 samples x 2 classes)")
        XCTAssertEqual(message { _ = try ClassificationReport(labels: [], probabilities: [], classes: 2) },
                       "labels is empty: a metric needs at least one sample")
        XCTAssertEqual(message { _ = try ClassificationReport(labels: [0, 2], probabilities: [0.5, 0.5, 0.1, 0.9], classes: 2) },
                       "labels[1] = 2 is not a class in 0..<2")
    }

    func testErrorsAreEquatableValues() {
        XCTAssertThrowsError(try M.auroc(labels: [1], scores: [.nan])) { error in
            XCTAssertEqual(error as? MetricsError, .nanScore(input: "scores", index: 0))
        }
    }
}
