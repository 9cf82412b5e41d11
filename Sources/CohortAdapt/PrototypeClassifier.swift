import CohortNN
import CohortTensor

/// Few-shot classification by class prototypes (Snell et al. 2017): the mean feature vector of
/// each class's few labelled examples; a sample goes to the nearest prototype.
public struct PrototypeClassifier {
    /// How nearness is measured.
    public enum Metric: String, Sendable, Codable { case euclidean, cosine }

    public let metric: Metric
    /// `[classes, features]`; rows of classes with no examples are zero and never win.
    public private(set) var prototypes: Tensor
    /// Which classes had at least one example.
    public private(set) var present: [Bool]

    /// Prototypes from `features` `[n, d]` and their labels in `0..<classes`.
    public init(features: Tensor, labels: [Int], classes: Int, metric: Metric = .cosine) {
        precondition(features.rank == 2 && features.rows == labels.count, "prototypes need [n, d] features and one label per row")
        let d = features.shape[1]
        var sums = [Float](repeating: 0, count: classes * d)
        var counts = [Int](repeating: 0, count: classes)
        for (i, y) in labels.enumerated() {
            precondition(y >= 0 && y < classes, "label \(y) at row \(i) outside 0..<\(classes)")
            counts[y] += 1
            for k in 0..<d { sums[y * d + k] += features.data[i * d + k] }
        }
        for c in 0..<classes where counts[c] > 0 { for k in 0..<d { sums[c * d + k] /= Float(counts[c]) } }
        self.metric = metric
        prototypes = Tensor(shape: [classes, d], data: sums)
        present = counts.map { $0 > 0 }
    }

    /// Scores `[n, classes]` (higher is nearer): negative squared distance, or cosine similarity.
    public func scores(_ features: Tensor) -> Tensor {
        let n = features.rows, d = prototypes.shape[1], c = prototypes.shape[0]
        precondition(features.columns == d, "features have \(features.columns) values, prototypes \(d)")
        var out = [Float](repeating: -.infinity, count: n * c)
        let protoNorms = (0..<c).map { j in (0..<d).reduce(Float(0)) { $0 + prototypes.data[j * d + $1] * prototypes.data[j * d + $1] }.squareRoot() }
        for i in 0..<n {
            var xNorm: Float = 0
            for k in 0..<d { xNorm += features.data[i * d + k] * features.data[i * d + k] }
            xNorm = xNorm.squareRoot()
            for j in 0..<c where present[j] {
                var dot: Float = 0, dist: Float = 0
                for k in 0..<d {
                    let a = features.data[i * d + k], b = prototypes.data[j * d + k]
                    dot += a * b; dist += (a - b) * (a - b)
                }
                out[i * c + j] = metric == .euclidean ? -dist : dot / max(xNorm * protoNorms[j], 1e-12)
            }
        }
        return Tensor(shape: [n, c], data: out)
    }

    /// The predicted class of each row.
    public func predict(_ features: Tensor) -> [Int] { scores(features).argmaxRows() }
}
