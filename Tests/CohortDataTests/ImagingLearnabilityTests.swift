import CohortData
import CohortNN
import CohortTensor
import Foundation
import XCTest

/// A cheap check that the imaging task carries signal but is not trivially separable:
/// logistic regression on six hand-made lesion features (area, perimeter, compactness,
/// contrast, heterogeneity of the largest bright blob inside the body away from the spine;
/// total bright area). A prototype of these features reached ~0.58 against a 0.39 majority
/// class on the quick source; the small CNN of ImagingCalibrationTests reaches ~0.85.
final class ImagingLearnabilityTests: XCTestCase {
    /// Six features of one 32×32 scan.
    static func features(_ x: ArraySlice<Float>) -> [Float] {
        let s = 32
        let img = Array(x)
        var smooth = [Float](repeating: 0, count: s * s)
        for y in 0..<s {
            for c in 0..<s {
                var sum: Float = 0, n: Float = 0
                for dy in -1...1 { for dx in -1...1 where (0..<s).contains(y + dy) && (0..<s).contains(c + dx) { sum += img[(y + dy) * s + c + dx]; n += 1 } }
                smooth[y * s + c] = sum / n
            }
        }
        // The body's interior: pixels above air, eroded twice (4-neighbourhood), so the body
        // outline does not count as a bright blob.
        var inner = smooth.map { $0 > 0.15 }
        for _ in 0..<2 {
            let before = inner
            for y in 0..<s {
                for c in 0..<s where before[y * s + c] {
                    let keep = y > 0 && y < s - 1 && c > 0 && c < s - 1
                        && before[(y - 1) * s + c] && before[(y + 1) * s + c] && before[y * s + c - 1] && before[y * s + c + 1]
                    inner[y * s + c] = keep
                }
            }
        }
        let body = (0..<(s * s)).filter { inner[$0] }.map { smooth[$0] }.sorted()
        let tissue = body.isEmpty ? 0 : body[body.count / 2]
        var mask = (0..<(s * s)).map { inner[$0] && smooth[$0] > tissue + 0.14 }
        // Drop the spine: the blob holding the brightest pixel of the lower-central window.
        var spine = -1, best: Float = -1
        for y in 20..<28 { for c in 12..<21 where smooth[y * s + c] > best { best = smooth[y * s + c]; spine = y * s + c } }
        var label = [Int](repeating: -1, count: s * s)
        var blobs: [[Int]] = []
        for start in 0..<(s * s) where mask[start] && label[start] < 0 {
            var stack = [start], members: [Int] = []
            label[start] = blobs.count
            while let p = stack.popLast() {
                members.append(p)
                let (py, pc) = (p / s, p % s)
                for (ny, nc) in [(py - 1, pc), (py + 1, pc), (py, pc - 1), (py, pc + 1)] where (0..<s).contains(ny) && (0..<s).contains(nc) {
                    let q = ny * s + nc
                    if mask[q] && label[q] < 0 { label[q] = blobs.count; stack.append(q) }
                }
            }
            blobs.append(members)
        }
        if spine >= 0, label[spine] >= 0 { for p in blobs[label[spine]] { mask[p] = false }; blobs[label[spine]] = [] }
        let total = Float(blobs.reduce(0) { $0 + $1.count })
        guard let blob = blobs.max(by: { $0.count < $1.count }), !blob.isEmpty else { return [0, 0, 0, 0, 0, total] }
        var perimeter: Float = 0, mean: Float = 0
        for p in blob {
            let (py, pc) = (p / s, p % s)
            let inBlob = { (y: Int, c: Int) in (0..<s).contains(y) && (0..<s).contains(c) && label[y * s + c] == label[p] }
            if !(inBlob(py - 1, pc) && inBlob(py + 1, pc) && inBlob(py, pc - 1) && inBlob(py, pc + 1)) {
                perimeter += 1
            }
            mean += img[p]
        }
        let area = Float(blob.count)
        mean /= area
        let variance = blob.reduce(Float(0)) { $0 + (img[$1] - mean) * (img[$1] - mean) } / area
        return [area, perimeter, perimeter / area.squareRoot(), mean - tissue, variance.squareRoot(), total]
    }

    static func featureMatrix(_ data: LabelledData) -> Tensor {
        let n = data.count
        var out: [Float] = []
        out.reserveCapacity(n * 6)
        for i in 0..<n { out += features(data.inputs.data[(i * 1024)..<((i + 1) * 1024)]) }
        return Tensor(shape: [n, 6], data: out)
    }

    func testSimpleFeaturesLearnTheSourceButNotPerfectly() throws {
        let config = SyntheticCohortConfig(kind: .imaging, seed: 9, preset: .quick)
        let plans = SyntheticSitePlan.plans(for: config)
        let source = SyntheticImagingCohort.generateSite(plans[0], index: 0, seed: 9)
        var train = LabelledData(inputs: Self.featureMatrix(source.train.labelled), labels: source.train.labelled.labels)
        var validation = LabelledData(inputs: Self.featureMatrix(source.validation!.labelled), labels: source.validation!.labelled.labels)
        // Standardise with the training statistics.
        for j in 0..<6 {
            let column = (0..<train.count).map { train.inputs.data[$0 * 6 + j] }
            let (mean, std) = meanStd(column)
            for i in 0..<train.count { train.inputs.data[i * 6 + j] = (train.inputs.data[i * 6 + j] - Float(mean)) / Float(max(std, 1e-6)) }
            for i in 0..<validation.count { validation.inputs.data[i * 6 + j] = (validation.inputs.data[i * 6 + j] - Float(mean)) / Float(max(std, 1e-6)) }
        }
        let model = try Sequential(spec: ModelSpec(inputShape: [6], layers: [LayerSpec(.dense, name: "fc", units: 3)]), seed: 1)
        let trainer = Trainer(model: model, optimizer: Adam(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.05)]),
                              config: TrainingConfig(epochs: 40, batchSize: 64, seed: 1))
        _ = try trainer.fit(train)
        let accuracy = Inference.accuracy(model, validation)
        let majority = Float(source.validation!.classCounts.max()!) / Float(validation.count)
        print("imaging learnability: logistic regression on 6 blob features, source validation accuracy \(accuracy) (majority class \(majority))")
        XCTAssertGreaterThan(accuracy, majority + 0.12, "the classes must carry signal simple features can find")
        XCTAssertLessThan(accuracy, 0.9, "the task must not be trivially separable")
    }
}
