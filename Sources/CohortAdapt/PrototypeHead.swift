import CohortNN
import CohortTensor

/// Writes a Euclidean prototype classifier into a model's final dense layer, so the adapted
/// model is an ordinary checkpoint. With prototypes `p_j`, `−‖f − p_j‖² = 2 f·p_j − ‖p_j‖² − ‖f‖²`;
/// the last term is the same for every class, so weights `2 p_j` and biases `−‖p_j‖²` give
/// exactly the prototype classifier's predictions and softmax.
public enum PrototypeHead {
    /// Builds prototypes from `support` (labelled rows) with the features after every layer of
    /// `model` but the last, and installs them into that last layer, which must be a dense
    /// layer with a bias and one unit per class. Every class needs at least one support row.
    /// Returns the number of support rows per class.
    @discardableResult
    public static func install(into model: Sequential, support: LabelledData) throws -> [Int] {
        guard let head = model.layers.last as? Dense, let bias = head.bias else {
            let last = model.layers.last.map { "'\($0.name)' (\($0.spec.kind.rawValue))" } ?? "nothing"
            throw AdaptationError("prototypes replace the last layer, which must be a dense layer with a bias; the model ends with \(last)")
        }
        let classes = head.units
        guard support.count > 0 else { throw AdaptationError("prototypes need labelled target rows; the target has none") }
        var counts = [Int](repeating: 0, count: classes)
        for (row, y) in support.labels.enumerated() {
            guard y >= 0 && y < classes else { throw AdaptationError("target label \(y) at labelled row \(row) is outside the model's \(classes) classes") }
            counts[y] += 1
        }
        if let missing = counts.firstIndex(of: 0) {
            throw AdaptationError("prototypes need at least one labelled target row of every class; class \(missing) has none (labelled rows per class: \(counts))")
        }
        let backbone = try model.split(at: model.layers.count - 1).backbone
        let features = Inference.outputs(backbone, support.inputs)
        let flat = features.reshaped([features.rows, features.columns])
        let prototypes = PrototypeClassifier(features: flat, labels: support.labels, classes: classes, metric: .euclidean).prototypes
        let d = head.inputs
        guard prototypes.shape == [classes, d] else {
            throw AdaptationError("the features before '\(head.spec.name)' have \(prototypes.shape[1]) values, the layer takes \(d)")
        }
        var weight = [Float](repeating: 0, count: classes * d), biases = [Float](repeating: 0, count: classes)
        for j in 0..<classes {
            var norm: Float = 0
            for k in 0..<d { let v = prototypes.data[j * d + k]; weight[j * d + k] = 2 * v; norm += v * v }
            biases[j] = -norm
        }
        head.weight.value = Tensor(shape: [classes, d], data: weight)
        bias.value = Tensor(shape: [classes], data: biases)
        return counts
    }
}
