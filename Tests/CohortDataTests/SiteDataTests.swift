import CohortData
import CohortNN
import CohortTensor
import XCTest

final class SiteDataTests: XCTestCase {
    private func data(_ labels: [Int]) -> SiteData {
        let n = labels.count
        return SiteData(labelled: LabelledData(inputs: Tensor(shape: [n, 2], data: (0..<(2 * n)).map(Float.init)), labels: labels),
                        unlabelled: Tensor(shape: [3, 2], repeating: 7), sampleShape: [2], classes: 3)
    }

    func testSplitIsSeededStratifiedAndKeepsUnlabelledInTrain() {
        let labels = Array(repeating: 0, count: 60) + Array(repeating: 1, count: 30) + Array(repeating: 2, count: 10)
        let d = data(labels)
        let (train, val) = d.split(validationFraction: 0.2, seed: 5)
        XCTAssertEqual(val.classCounts, [12, 6, 2], "each class contributes its share")
        XCTAssertEqual(train.classCounts, [48, 24, 8])
        XCTAssertEqual(train.unlabelled.rows, 3)
        XCTAssertEqual(val.unlabelled.rows, 0)
        // Every row lands in exactly one part, with its own label.
        let rows = (train.labelled.inputs.data + val.labelled.inputs.data).enumerated().filter { $0.offset % 2 == 0 }.map { Int($0.element) / 2 }
        XCTAssertEqual(rows.sorted(), Array(0..<100))
        for part in [train, val] {
            for (i, y) in part.labelled.labels.enumerated() { XCTAssertEqual(labels[Int(part.labelled.inputs.data[2 * i]) / 2], y) }
        }
        let again = d.split(validationFraction: 0.2, seed: 5)
        XCTAssertEqual(again.validation.labelled.inputs, val.labelled.inputs)
        XCTAssertNotEqual(d.split(validationFraction: 0.2, seed: 6).validation.labelled.inputs, val.labelled.inputs)
        // A tiny set still gets one validation sample.
        XCTAssertEqual(data([0, 1]).split(validationFraction: 0.1, seed: 1).validation.labelled.count, 1)
    }

    func testModelInputsAreChannelsLast() {
        // Two channels of a 1×2 image: NCHW rows [c0p0, c0p1, c1p0, c1p1] become NHWC [p0c0, p0c1, p1c0, p1c1].
        let d = SiteData(labelled: LabelledData(inputs: Tensor(shape: [1, 4], data: [1, 2, 3, 4]), labels: [0]), sampleShape: [2, 1, 2], classes: 1)
        XCTAssertEqual(d.modelInputShape, [1, 2, 2])
        XCTAssertEqual(d.modelInputs(d.labelled.inputs), Tensor(shape: [1, 1, 2, 2], data: [1, 3, 2, 4]))
        let gray = SiteData(labelled: LabelledData(inputs: Tensor(shape: [1, 4], data: [1, 2, 3, 4]), labels: [0]), sampleShape: [1, 2, 2], classes: 1)
        XCTAssertEqual(gray.modelInputs(gray.labelled.inputs), Tensor(shape: [1, 2, 2, 1], data: [1, 2, 3, 4]))
    }
}
